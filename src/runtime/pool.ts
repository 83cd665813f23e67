/**
 * RecognizerPool (Node): FaceRecognizers in worker threads behind promise-returning methods of
 * the same names, so that decoding, detection and embedding never block the caller's event loop
 * and a batch of photos spreads over the cores.
 *
 *   const pool = await RecognizerPool.create();              // one worker per core (size: N to choose)
 *   const faces = await Promise.all(files.map((f) => pool.embedFaces(f)));
 *   await pool.close();
 *
 * Images are file paths (read and decoded in the worker), JPEG/PNG bytes or RgbImages. The models
 * are read once here and handed to every worker. Each call goes to the worker with the fewest
 * calls waiting; a worker's typed error comes back as the same class (instanceof works).
 */
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { loadBundledModel } from '../engine/assets.js';
import type { Precision } from '../engine/model.js';
import { DisposedError, MobileIdError } from '../errors.js';
import type { DetectorOptions } from '../face/detector.js';
import {
  bundledStudent,
  matcherFor,
  type DetectedFace,
  type EmbedOptions,
  type EmbeddedFace,
  type LargestFace,
  type LargestFaceOptions,
  type MatcherOptions,
  type RecognizerModels,
  type VerificationDefaults,
  type VerifyOptions,
  type VerifyResult,
} from '../face/recognizer.js';
import type { RgbImage } from '../image.js';
import * as api from '../index.js';
import * as engineApi from './engine.js';
import { siblingModule, startWorker } from '../node-worker.js';
import { StudentModelMissingError } from '../face/recognizer.js';
import type { FaceMatcher, ModelIdentity } from '../verify/matcher.js';
import type { PoolCall, PoolReply, PoolSetup, WorkerReady } from './pool-worker.js';

/** A file path, the bytes of a JPEG/PNG file, or decoded pixels. */
export type PoolImage = string | Uint8Array | RgbImage;

export interface PoolOptions {
  /** Worker threads; default the number of cores (os.availableParallelism()). */
  size?: number;
  /** Model file bytes; each defaults to the bundled file. */
  models?: RecognizerModels;
  /** The student's arithmetic, as FaceRecognizer.create's precision (default: the int8 student). */
  precision?: Precision;
  /** Detector options for every call that does not pass its own. */
  detector?: DetectorOptions;
  /** Largest photo the workers decode, in pixels (ImageTooLargeError beyond). */
  maxPixels?: number;
}

/** A pool option out of range (size). */
export class PoolOptionError extends MobileIdError {
  override name = 'PoolOptionError';
}

/** The package's typed errors by name, to rebuild a worker's error as its own class. */
const ERROR_CLASSES = new Map<string, typeof MobileIdError>(
  [...Object.values(api), ...Object.values(engineApi)]
    .filter((v: unknown): v is typeof MobileIdError => typeof v === 'function' && (v === MobileIdError || v.prototype instanceof MobileIdError))
    .map((c) => [c.name, c]),
);

function rebuildError({ name, message, properties }: { name: string; message: string; properties: Record<string, unknown> }): Error {
  const Class = ERROR_CLASSES.get(name);
  const error: Error = Class ? Object.create(Class.prototype) : new Error();
  return Object.assign(error, properties, { name, message, stack: `${name}: ${message}\n    (in a RecognizerPool worker)` });
}

interface Slot {
  worker: Worker;
  waiting: Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>;
}

export class RecognizerPool {
  private nextId = 0;
  private closed = false;

  /** The embedding model's identity (null without a student), as FaceRecognizer.model. */
  readonly model: ModelIdentity | null;
  /** The student model's verification rule, as FaceRecognizer.verification. */
  readonly verification: VerificationDefaults | null;

  private constructor(
    private readonly slots: Slot[],
    ready: WorkerReady,
  ) {
    this.model = ready.model;
    this.verification = ready.verification;
  }

  /** Starts `size` workers, each with its own FaceRecognizer; resolves when all are ready. */
  static async create(options: PoolOptions = {}): Promise<RecognizerPool> {
    const size = options.size ?? os.availableParallelism();
    if (!(Number.isInteger(size) && size >= 1 && size <= 256)) throw new PoolOptionError(`size must be a whole number from 1 to 256, got ${size}`);
    const given = options.models ?? {};
    const [detector, landmarks, student] = await Promise.all([
      given.detector ?? loadBundledModel('detector'),
      given.landmarks ?? loadBundledModel('landmarks68'),
      given.student ?? loadBundledModel(bundledStudent(options.precision)).catch(() => undefined),
    ]);
    const setup: PoolSetup = { role: 'recognizer-pool', models: { detector, landmarks, student }, precision: options.precision, detector: options.detector ?? {}, maxPixels: options.maxPixels };
    const slots: Slot[] = Array.from({ length: size }, () => ({ worker: startWorker(siblingModule('pool-worker', import.meta.url), setup), waiting: new Map() }));
    const ready = slots.map(
      (slot) =>
        new Promise<WorkerReady>((resolve, reject) => {
          slot.worker.once('message', (reply: PoolReply) => ('error' in reply ? reject(rebuildError(reply.error)) : resolve(reply.result as WorkerReady)));
          slot.worker.once('error', reject);
        }),
    );
    let first: WorkerReady;
    try {
      [first] = await Promise.all(ready);
    } catch (error) {
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
      throw error;
    }
    const pool = new RecognizerPool(slots, first);
    for (const slot of slots) pool.listen(slot);
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.slots.length;
  }

  detectFaces(image: PoolImage, options?: DetectorOptions): Promise<DetectedFace[]> {
    return this.call('detectFaces', [image, options]);
  }

  embedFaces(image: PoolImage, options?: EmbedOptions): Promise<EmbeddedFace[]> {
    return this.call('embedFaces', [image, options]);
  }

  embedLargestFace(image: PoolImage, options?: LargestFaceOptions): Promise<LargestFace | null> {
    return this.call('embedLargestFace', [image, options]);
  }

  verify(imageA: PoolImage, imageB: PoolImage, options?: VerifyOptions): Promise<VerifyResult> {
    if (options?.verifier !== undefined && typeof options.verifier !== 'string') {
      throw new PoolOptionError('a pool takes the verifier by name (cosine or euclidean): a Verifier object cannot be sent to its workers');
    }
    return this.call('verify', [imageA, imageB, options]);
  }

  /** An empty FaceMatcher for this pool's embeddings, as FaceRecognizer.createMatcher. */
  createMatcher(options: MatcherOptions = {}): FaceMatcher {
    return matcherFor(this.requireModel(), this.verification, options);
  }

  /** A saved matcher for this pool's embeddings, as FaceRecognizer.loadMatcher. */
  loadMatcher(json: unknown, options: MatcherOptions = {}): FaceMatcher {
    return matcherFor(this.requireModel(), this.verification, options, json);
  }

  /** Stops the workers; calls still waiting are rejected with DisposedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.slots) {
      for (const { reject } of slot.waiting.values()) reject(new DisposedError('the RecognizerPool was closed'));
      slot.waiting.clear();
    }
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private requireModel(): ModelIdentity {
    if (!this.model) throw new StudentModelMissingError('this pool has no student model (models.student) to make embeddings with');
    return this.model;
  }

  private listen(slot: Slot): void {
    slot.worker.on('message', (reply: PoolReply) => {
      const pending = slot.waiting.get(reply.id);
      if (!pending) return;
      slot.waiting.delete(reply.id);
      if ('error' in reply) pending.reject(rebuildError(reply.error));
      else pending.resolve(reply.result);
    });
    // a worker that dies (out of memory, a crash) fails its calls rather than leaving them waiting
    const fail = (error: Error) => {
      for (const { reject } of slot.waiting.values()) reject(error);
      slot.waiting.clear();
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => !this.closed && fail(new DisposedError(`a RecognizerPool worker exited with code ${code}`)));
  }

  private call<T>(method: PoolCall['method'], args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new DisposedError('this RecognizerPool has been closed'));
    const slot = this.slots.reduce((best, s) => (s.waiting.size < best.waiting.size ? s : best));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      slot.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      slot.worker.postMessage({ id, method, args } satisfies PoolCall);
    });
  }
}
