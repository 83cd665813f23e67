/**
 * A worker thread of RecognizerPool (pool.ts): one FaceRecognizer, answering calls by id. File
 * paths are read and decoded here, off the caller's thread. A module of its own
 * (dist/pool-worker.js), so that a worker never loads a runtime entry or the CLI.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { DetectorOptions } from '../face/detector.js';
import { FaceRecognizer, type ImageInput, type RecognizerModels, type VerificationDefaults } from '../face/recognizer.js';
import type { Precision } from '../engine/model.js';
import type { ModelIdentity } from '../verify/matcher.js';
import { readPhoto, sendableError, type SentError } from './worker-io.js';

export interface PoolSetup {
  role: 'recognizer-pool';
  models: RecognizerModels;
  precision?: Precision;
  detector: DetectorOptions;
  maxPixels?: number;
}

export interface PoolCall {
  id: number;
  method: 'detectFaces' | 'embedFaces' | 'embedLargestFace' | 'verify';
  args: unknown[];
}

/** What a worker answers once its recognizer is loaded. */
export interface WorkerReady {
  model: ModelIdentity | null;
  verification: VerificationDefaults | null;
}

/** id -1: the worker's start (WorkerReady, or the error that stopped its recognizer loading). */
export type PoolReply = { id: number; result: unknown } | { id: number; error: SentError };

const image = async (input: unknown): Promise<ImageInput> => (typeof input === 'string' ? readPhoto(input) : (input as ImageInput));

async function serve(setup: PoolSetup): Promise<void> {
  const port = parentPort!;
  let recognizer: FaceRecognizer;
  try {
    recognizer = await FaceRecognizer.create({ models: setup.models, precision: setup.precision, detector: setup.detector, maxPixels: setup.maxPixels });
  } catch (error) {
    port.postMessage({ id: -1, error: sendableError(error) } satisfies PoolReply);
    return;
  }
  port.postMessage({ id: -1, result: { model: recognizer.model, verification: recognizer.verification } satisfies WorkerReady } satisfies PoolReply);
  port.on('message', async ({ id, method, args }: PoolCall) => {
    try {
      let result: unknown;
      if (method === 'verify') result = recognizer.verify(await image(args[0]), await image(args[1]), args[2] as object | undefined);
      else result = recognizer[method](await image(args[0]), (args[1] ?? {}) as object);
      port.postMessage({ id, result } satisfies PoolReply);
    } catch (error) {
      port.postMessage({ id, error: sendableError(error) } satisfies PoolReply);
    }
  });
}

if (!isMainThread && (workerData as PoolSetup | undefined)?.role === 'recognizer-pool') await serve(workerData as PoolSetup);
