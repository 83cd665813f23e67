/**
 * The largest face of every photo of a list, embedded by a RecognizerPool (worker threads that
 * read, decode, detect and embed) under one progress bar: what gallery, eval-pairs and calibrate
 * share, and their --model choice.
 */
import { loadBundledModel } from '../engine/assets.js';
import { decodeModel } from '../engine/model-format.js';
import { AssetNotFoundError } from '../errors.js';
import { bundledStudent, DEFAULT_PRECISION } from '../face/recognizer.js';
import type { DetectorOptions } from '../face/detector.js';
import type { Box } from '../face/networks.js';
import { RecognizerPool } from '../runtime/pool.js';
import { CliError } from './cli-error.js';
import { readModelFile } from './files.js';
import { ProgressBar } from './progress.js';

/** The --model option of the commands that embed photos. */
export const MODEL_OPTION = {
  type: 'string', default: 'mobileid', value: 'mobileid|teacher|FILE',
  description: `the embedding: the shipped student (${DEFAULT_PRECISION}), the dlib teacher (checkouts only) or a model file`,
} as const;

/** The embedding model's bytes, checked here so that a bad --model fails before any worker starts. */
export async function embeddingModel(model: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  if (model === 'mobileid' || model === 'teacher') {
    try {
      bytes = await loadBundledModel(model === 'mobileid' ? bundledStudent() : model);
    } catch (error) {
      if (error instanceof AssetNotFoundError) {
        throw new CliError(`--model ${model}: this installation has no ${model} model${model === 'teacher' ? ' (the published package does not ship it; a checkout makes it with npm run convert-models)' : ''}`);
      }
      throw error;
    }
  } else {
    bytes = readModelFile('model', model);
  }
  decodeModel(bytes); // a damaged file: ModelFormatError now rather than in every worker
  return bytes;
}

export interface EmbedOptions {
  workers: number;
  mirror: boolean;
  detector: DetectorOptions;
  /** The photos are face crops (gallery): see LargestFaceOptions.faceCrop. Off: a photo without a face gives no embedding. */
  assumeFaceCrops: boolean;
}

export interface EmbeddedPhotos {
  /** null: no face found (and no crop assumed), or the photo failed. */
  embeddings: (Float32Array | null)[];
  boxes: (Box | null)[];
  /** "file: reason" of each photo that could not be read or decoded. */
  failures: string[];
  /** Photos where the detector found no face. */
  undetected: number;
}

/** Calls waiting per worker: enough to keep each busy, few enough that photos are not all read at once. */
const IN_FLIGHT_PER_WORKER = 2;

/** The photos embedded by a pool of worker threads, one progress bar over all of them. */
export async function embedPhotos(files: string[], model: Uint8Array, options: EmbedOptions): Promise<EmbeddedPhotos> {
  const result: EmbeddedPhotos = { embeddings: new Array(files.length).fill(null), boxes: new Array(files.length).fill(null), failures: [], undetected: 0 };
  const pool = await RecognizerPool.create({ size: Math.max(1, Math.min(options.workers, files.length)), models: { student: model }, detector: options.detector });
  const bar = new ProgressBar('decode/detect/embed', files.length);
  let next = 0;
  const embedNext = async (): Promise<void> => {
    for (let index = next++; index < files.length; index = next++) {
      try {
        const largest = await pool.embedLargestFace(files[index], { mirror: options.mirror, faceCrop: options.assumeFaceCrops });
        result.embeddings[index] = largest?.embedding ?? null;
        result.boxes[index] = largest?.face.box ?? null;
        if (!largest?.found) result.undetected++;
      } catch (error) {
        result.failures.push(`${files[index]}: ${(error as Error).name}: ${(error as Error).message}`);
      }
      const notes = [result.undetected ? `${result.undetected} without a face` : '', result.failures.length ? `${result.failures.length} failed` : ''];
      bar.tick(notes.filter(Boolean).join(', '));
    }
  };
  try {
    await Promise.all(Array.from({ length: pool.size * IN_FLIGHT_PER_WORKER }, embedNext));
  } finally {
    await pool.close();
  }
  bar.done();
  return result;
}
