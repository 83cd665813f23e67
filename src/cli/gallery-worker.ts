/**
 * A worker thread of the commands that embed a list of photos (gallery, eval-pairs, calibrate;
 * started by embed-photos.ts): its share of the photos -> the recognizer's largest face ->
 * embedding. A module of its own (dist/gallery-worker.js in the package), so that a worker never
 * loads the CLI's entry point.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { DetectorOptions } from '../face/detector.js';
import type { Box } from '../face/networks.js';
import { FaceRecognizer } from '../face/recognizer.js';
import { readImageFile } from './files.js';

export interface EmbedJob {
  role: 'embed-largest-face';
  files: string[];
  /** The embedding model file, loaded (and checked) once by the main thread. */
  model: Uint8Array;
  mirror: boolean;
  detector: DetectorOptions;
  /**
   * For collections of face crops (gallery): the detector input matched to the photo's size
   * (cheaper, faces stay large) and, when no face is found, the centred crop taken as the face.
   * Off: a photo without a face gives no embedding.
   */
  assumeFaceCrops: boolean;
}

export type EmbedMessage =
  | { type: 'face'; index: number; embedding: Float32Array | null; box: Box | null; found: number }
  | { type: 'failed'; index: number; reason: string }
  | { type: 'done' };

async function embedWorker(job: EmbedJob): Promise<void> {
  const recognizer = await FaceRecognizer.create({ models: { student: job.model }, detector: job.detector });
  job.files.forEach((file, index) => {
    try {
      const image = readImageFile(file);
      let options: Parameters<FaceRecognizer['embedLargestFace']>[1] = { mirror: job.mirror };
      if (job.assumeFaceCrops) {
        const inputSize = Math.min(416, Math.max(128, Math.ceil(Math.max(image.width, image.height) / 32) * 32));
        const side = Math.min(image.width, image.height) * 0.6;
        const fallbackBox = { x: (image.width - side) / 2, y: (image.height - side) / 2, width: side, height: side };
        options = { ...options, detector: { inputSize }, fallbackBox };
      }
      const largest = recognizer.embedLargestFace(image, options);
      const message: EmbedMessage = largest
        ? { type: 'face', index, embedding: largest.embedding, box: largest.face.box, found: largest.found }
        : { type: 'face', index, embedding: null, box: null, found: 0 };
      parentPort!.postMessage(message);
    } catch (error) {
      parentPort!.postMessage({ type: 'failed', index, reason: `${(error as Error).name}: ${(error as Error).message}` } satisfies EmbedMessage);
    }
  });
  recognizer.dispose();
  parentPort!.postMessage({ type: 'done' } satisfies EmbedMessage);
}

if (!isMainThread && (workerData as EmbedJob | undefined)?.role === 'embed-largest-face') await embedWorker(workerData as EmbedJob);
