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
 * are read once here and handed to every worker. Calls wait in the pool's queue and each worker
 * takes the next one when it is free, so photos of uneven cost (a group photo, a portrait) do not
 * pile up behind one worker; a worker's typed error comes back as the same class (instanceof works). A worker
 * that stops (a crash, out of memory) fails its waiting calls with PoolWorkerError and is
 * replaced, so the pool stays usable.
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
import type { SentError } from './worker-io.js';

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

/** A pool option out of range (size), or a call argument that cannot be sent to a worker. */
export class PoolOptionError extends MobileIdError {
  override name = 'PoolOptionError';
}

/** A worker thread of the pool stopped (crashed, ran out of memory) with this call waiting on it. */
export class PoolWorkerError extends MobileIdError {
  override name = 'PoolWorkerError';
}

/** The package's typed errors by name, to rebuild a worker's error as its own class. */
const ERROR_CLASSES = new Map<string, typeof MobileIdError>(
  [...Object.values(api), ...Object.values(engineApi)]
    .filter((v: unknown): v is typeof MobileIdError => typeof v === 'function' && (v === MobileIdError || v.prototype instanceof MobileIdError))
    .map((c) => [c.name, c]),
);

/** A worker's error (sendableError) as an instance of its own class, where it is one of the package's. */
export function rebuildError({ name, message, properties }: SentError, where = 'a RecognizerPool worker'): Error {
  const Class = ERROR_CLASSES.get(name);
  const error: Error = Class ? Object.create(Class.prototype) : new Error();
  return Object.assign(error, properties, { name, message, stack: `${name}: ${message}\n    (in ${where})` });
}

interface Slot {
  worker: Worker;
  waiting: Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>;
  /** Its worker has loaded its recognizer (a worker that stops before that is not restarted). */
  ready: boolean;
  /** Taking calls: false once a replacement worker could not start. */
  alive: boolean;
}

/** A call not yet handed to a worker. */
interface QueuedCall {
  id: number;
  method: PoolCall['method'];
  args: unknown[];
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * Calls a worker holds at once. One: a worker asks for its next call only when it is free, and the
 * message round trip (well under a millisecond) is small against a photo (tens of milliseconds).
 */
const CALLS_PER_WORKER = 1;

const NO_WORKER_LEFT = 'every worker of this RecognizerPool has stopped; create a new pool';

const startPoolWorker = (setup: PoolSetup) => startWorker(siblingModule('pool-worker', import.meta.url), setup);

export class RecognizerPool {
  private nextId = 0;
  private closed = false;
  private readonly queue: QueuedCall[] = [];

  /** The embedding model's identity (null without a student), as FaceRecognizer.model. */
  readonly model: ModelIdentity | null;
  /** The student model's verification rule, as FaceRecognizer.verification. */
  readonly verification: VerificationDefaults | null;

  private constructor(
    private readonly slots: Slot[],
    private readonly setup: PoolSetup,
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
    const slots: Slot[] = Array.from({ length: size }, () => ({ worker: startPoolWorker(setup), waiting: new Map(), ready: true, alive: true }));
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
    const pool = new RecognizerPool(slots, setup, first);
    for (const slot of slots) pool.listen(slot, slot.worker);
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
      return Promise.reject(new PoolOptionError('a pool takes the verifier by name (cosine or euclidean): a Verifier object cannot be sent to its workers'));
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
    for (const { reject } of this.queue.splice(0)) reject(new DisposedError('the RecognizerPool was closed'));
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private requireModel(): ModelIdentity {
    if (!this.model) throw new StudentModelMissingError('this pool has no student model (models.student) to make embeddings with');
    return this.model;
  }

  private listen(slot: Slot, worker: Worker): void {
    const current = () => !this.closed && slot.worker === worker;
    worker.on('message', (reply: PoolReply) => {
      if (reply.id === -1) {
        // a replacement worker's start
        if (!('error' in reply)) slot.ready = true;
        else if (current()) this.retire(slot, `a replacement RecognizerPool worker could not start: ${reply.error.message}`);
        return;
      }
      const pending = slot.waiting.get(reply.id);
      if (!pending) return;
      slot.waiting.delete(reply.id);
      if ('error' in reply) pending.reject(rebuildError(reply.error));
      else pending.resolve(reply.result);
      this.dispatch();
    });
    // a worker that dies (out of memory, a crash) fails its calls rather than leaving them waiting
    worker.on('error', (error) => current() && this.fail(slot, `a RecognizerPool worker failed: ${error.message}`));
    worker.on('exit', (code) => {
      if (!current() || !slot.alive) return;
      this.fail(slot, `a RecognizerPool worker stopped (exit code ${code})`);
      // a new worker in its place, unless this one never got ready (it would stop again)
      if (!slot.ready) return this.retire(slot, 'a replacement RecognizerPool worker stopped before it was ready');
      slot.worker = startPoolWorker(this.setup);
      slot.ready = false;
      this.listen(slot, slot.worker);
      this.dispatch();
    });
  }

  /** Fails every call waiting on the slot's worker. */
  private fail(slot: Slot, message: string): void {
    for (const { reject } of slot.waiting.values()) reject(new PoolWorkerError(message));
    slot.waiting.clear();
  }

  /** Takes a slot out of use for good. */
  private retire(slot: Slot, message: string): void {
    slot.alive = false;
    this.fail(slot, message);
    void slot.worker.terminate();
    if (!this.slots.some((s) => s.alive)) for (const { reject } of this.queue.splice(0)) reject(new PoolWorkerError(NO_WORKER_LEFT));
  }

  private call<T>(method: PoolCall['method'], args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new DisposedError('this RecognizerPool has been closed'));
    if (!this.slots.some((s) => s.alive)) return Promise.reject(new PoolWorkerError(NO_WORKER_LEFT));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, method, args, resolve: resolve as (value: unknown) => void, reject });
      this.dispatch();
    });
  }

  /** Hands queued calls, in order, to the workers that have room. */
  private dispatch(): void {
    for (const slot of this.slots) {
      while (slot.alive && slot.waiting.size < CALLS_PER_WORKER && this.queue.length > 0) {
        const { id, method, args, resolve, reject } = this.queue.shift()!;
        try {
          slot.worker.postMessage({ id, method, args } satisfies PoolCall);
        } catch (cause) {
          // e.g. a function in the options: structured cloning refuses it (DataCloneError)
          reject(new PoolOptionError(`${method}: its arguments cannot be sent to a worker thread: ${(cause as Error).message}`));
          continue;
        }
        slot.waiting.set(id, { resolve, reject });
      }
    }
  }

}
