/**
 * The largest face of every photo of a list, embedded in worker threads (gallery-worker.ts) under
 * one progress bar: what gallery, eval-pairs and calibrate share, and their --model choice.
 */
import { loadBundledModel } from '../engine/assets.js';
import { decodeModel } from '../engine/model-format.js';
import { AssetNotFoundError } from '../errors.js';
import { bundledStudent, DEFAULT_PRECISION } from '../face/recognizer.js';
import type { DetectorOptions } from '../face/detector.js';
import type { Box } from '../face/networks.js';
import { siblingModule, startWorker } from '../node-worker.js';
import { CliError } from './cli-error.js';
import { readModelFile } from './files.js';
import type { EmbedJob, EmbedMessage } from './gallery-worker.js';
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
  /** See EmbedJob.assumeFaceCrops. */
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

/** The photos split over worker threads, one progress bar over all of them. */
export async function embedPhotos(files: string[], model: Uint8Array, options: EmbedOptions): Promise<EmbeddedPhotos> {
  const result: EmbeddedPhotos = { embeddings: new Array(files.length).fill(null), boxes: new Array(files.length).fill(null), failures: [], undetected: 0 };
  const workers = Math.max(1, Math.min(options.workers, files.length));
  const bar = new ProgressBar('decode/detect/embed', files.length);
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const mine = files.map((_, i) => i).filter((i) => i % workers === w);
      const job: EmbedJob = {
        role: 'embed-largest-face', files: mine.map((i) => files[i]), model,
        mirror: options.mirror, detector: options.detector, assumeFaceCrops: options.assumeFaceCrops,
      };
      const worker = startWorker(siblingModule('gallery-worker', import.meta.url), job);
      return new Promise<void>((resolve, reject) => {
        worker.on('message', (m: EmbedMessage) => {
          if (m.type === 'done') return resolve();
          const index = mine[m.index];
          if (m.type === 'failed') result.failures.push(`${files[index]}: ${m.reason}`);
          else {
            result.embeddings[index] = m.embedding;
            result.boxes[index] = m.box;
            if (m.found === 0) result.undetected++;
          }
          const notes = [result.undetected ? `${result.undetected} without a face` : '', result.failures.length ? `${result.failures.length} failed` : ''];
          bar.tick(notes.filter(Boolean).join(', '));
        });
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`embedding worker exited with code ${code}`))));
      });
    }),
  );
  bar.done();
  return result;
}
