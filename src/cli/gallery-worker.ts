/**
 * A worker thread of `mobileid gallery`: its share of the photos -> the recognizer's largest face
 * (or, when the detector finds none, the image taken as a centred face crop) -> embedding. A
 * module of its own (dist/gallery-worker.js in the package), so that a worker never loads the
 * CLI's entry point.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Box } from '../face/networks.js';
import { FaceRecognizer } from '../face/recognizer.js';
import { readImageFile } from './files.js';

export interface EmbedJob {
  role: 'gallery-embed';
  files: string[];
  /** The embedding model file, loaded (and checked) once by the main thread. */
  model: Uint8Array;
}

export type EmbedMessage =
  | { type: 'face'; index: number; embedding: Float32Array; box: Box; detected: boolean }
  | { type: 'failed'; index: number; reason: string }
  | { type: 'done' };

async function embedWorker(job: EmbedJob): Promise<void> {
  const recognizer = await FaceRecognizer.create({ models: { student: job.model } });
  job.files.forEach((file, index) => {
    try {
      const image = readImageFile(file);
      // small inputs (pre-cropped faces) get a matching detector size: cheaper, and faces stay large
      const inputSize = Math.min(416, Math.max(128, Math.ceil(Math.max(image.width, image.height) / 32) * 32));
      const side = Math.min(image.width, image.height) * 0.6;
      const fallbackBox = { x: (image.width - side) / 2, y: (image.height - side) / 2, width: side, height: side };
      const { face, embedding, found } = recognizer.embedLargestFace(image, { detector: { inputSize }, fallbackBox })!;
      parentPort!.postMessage({ type: 'face', index, embedding, box: face.box, detected: found > 0 } satisfies EmbedMessage);
    } catch (error) {
      parentPort!.postMessage({ type: 'failed', index, reason: `${(error as Error).name}: ${(error as Error).message}` } satisfies EmbedMessage);
    }
  });
  parentPort!.postMessage({ type: 'done' } satisfies EmbedMessage);
}

if (!isMainThread && (workerData as EmbedJob | undefined)?.role === 'gallery-embed') await embedWorker(workerData as EmbedJob);
