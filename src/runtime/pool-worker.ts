/**
 * A worker thread of RecognizerPool (pool.ts): one FaceRecognizer, answering calls by id. File
 * paths are read and decoded here, off the caller's thread. A module of its own
 * (dist/pool-worker.js), so that a worker never loads a runtime entry or the CLI.
 */
import { readFile } from 'node:fs/promises';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { FileReadError } from '../errors.js';
import type { DetectorOptions } from '../face/detector.js';
import { FaceRecognizer, type ImageInput, type RecognizerModels, type VerificationDefaults } from '../face/recognizer.js';
import type { Precision } from '../engine/model.js';
import type { ModelIdentity } from '../verify/matcher.js';

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

export interface SentError {
  name: string;
  message: string;
  /** The error's own fields (e.g. FileReadError's path and code). */
  properties: Record<string, unknown>;
}

/** What a worker answers once its recognizer is loaded. */
export interface WorkerReady {
  model: ModelIdentity | null;
  verification: VerificationDefaults | null;
}

/** id -1: the worker's start (WorkerReady, or the error that stopped its recognizer loading). */
export type PoolReply = { id: number; result: unknown } | { id: number; error: SentError };

async function image(input: unknown): Promise<ImageInput> {
  if (typeof input !== 'string') return input as ImageInput;
  const bytes = await readFile(input).catch((cause: unknown) => {
    throw FileReadError.from(input, cause);
  });
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function sent(error: unknown): SentError {
  const e = error instanceof Error ? error : new Error(String(error));
  const properties = Object.fromEntries(Object.entries(e).filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v) || v === undefined));
  return { name: e.name, message: e.message, properties };
}

async function serve(setup: PoolSetup): Promise<void> {
  const port = parentPort!;
  let recognizer: FaceRecognizer;
  try {
    recognizer = await FaceRecognizer.create({ models: setup.models, precision: setup.precision, detector: setup.detector, maxPixels: setup.maxPixels });
  } catch (error) {
    port.postMessage({ id: -1, error: sent(error) } satisfies PoolReply);
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
      port.postMessage({ id, error: sent(error) } satisfies PoolReply);
    }
  });
}

if (!isMainThread && (workerData as PoolSetup | undefined)?.role === 'recognizer-pool') await serve(workerData as PoolSetup);
