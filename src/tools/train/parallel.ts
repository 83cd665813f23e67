/**
 * Data-parallel loss and gradient computation: the batch is split over `workers`
 * worker_threads, each with its own Engine and TrainingNetwork; they read the current weights
 * and their share of the batch from SharedArrayBuffers and write their gradient sum into a
 * SharedArrayBuffer of their own, which the main thread adds up (no copies through messages).
 * With workers = 0 the same work runs on the calling thread.
 *
 * Two batch slots let the caller fill the next batch while the current one is computed.
 */
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { Engine } from '../../engine/engine.js';
import type { GraphSpec } from '../../engine/graph.js';
import type { Tensor } from '../../engine/model-format.js';
import { startWorker } from '../../node-worker.js';
import { TrainingError } from './errors.js';
import { TrainingNetwork, type TrainingNetworkOptions } from './network.js';
import { ParameterLayout } from './parameters.js';

/** One batch buffer: `input` holds up to maxBatch preprocessed images, `targets` their targets. */
export interface BatchSlot {
  input: Float32Array;
  targets: Float32Array;
}

export interface BatchComputerOptions {
  graph: GraphSpec;
  /** Initial weights (also define the parameter layout). */
  tensors: Map<string, Tensor>;
  maxBatch: number;
  /** Worker threads; 0 computes on the calling thread. */
  workers: number;
  /** Weight of the cosine term of the objective (TrainingNetworkOptions). */
  cosineWeight?: number;
  /** Weight of the relational distance term, over each thread's shard of the batch (TrainingNetworkOptions). */
  relationWeight?: number;
  /** Batch norm after convolutions and hidden dense layers (TrainingNetworkOptions). */
  batchNorm?: boolean;
}

/** The objective and normalisation every thread's TrainingNetwork is built with. */
export type NetworkSettings = Required<Pick<TrainingNetworkOptions, 'cosineWeight' | 'relationWeight' | 'batchNorm'>>;

/** Messages to a worker. */
export type WorkerRequest =
  | { type: 'gradient' | 'loss'; slot: number; start: number; count: number; version: number }
  | { type: 'close' };

/** Everything a worker needs to set itself up (sent once as workerData). */
export interface WorkerSetup {
  graph: GraphSpec;
  layout: { name: string; shape: number[] }[];
  maxShard: number;
  settings: NetworkSettings;
  weights: SharedArrayBuffer;
  gradient: SharedArrayBuffer;
  slots: { input: SharedArrayBuffer; targets: SharedArrayBuffer }[];
}

export type WorkerReply = { type: 'ready' } | { type: 'done'; loss: number } | { type: 'error'; message: string };

const SLOTS = 2;

const shared = (floats: number) => new Float32Array(new SharedArrayBuffer(floats * 4));

export class BatchComputer {
  readonly layout: ParameterLayout;
  /** The weights every computation uses; call weightsChanged() after writing them. */
  readonly weights: Float32Array;
  readonly slots: BatchSlot[];
  readonly inputSize: number;
  readonly outputSize: number;
  private version = 0;
  private constructor(
    readonly maxBatch: number,
    layout: ParameterLayout,
    weights: Float32Array,
    slots: BatchSlot[],
    sizes: [number, number],
    private readonly backend: Backend,
  ) {
    this.layout = layout;
    this.weights = weights;
    this.slots = slots;
    [this.inputSize, this.outputSize] = sizes;
  }

  static async create(options: BatchComputerOptions): Promise<BatchComputer> {
    const { graph, tensors, maxBatch, workers } = options;
    const settings: NetworkSettings = { cosineWeight: options.cosineWeight ?? 0, relationWeight: options.relationWeight ?? 0, batchNorm: options.batchNorm ?? false };
    if (!Number.isInteger(workers) || workers < 0) throw new TrainingError(`workers must be a non-negative integer, got ${workers}`);
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new TrainingError(`batch must be a positive integer, got ${maxBatch}`);
    // a throw-away network validates the graph and gives the sizes before any thread starts
    const probeEngine = await Engine.create();
    const probe = new TrainingNetwork(probeEngine, graph, tensors, 1, settings);
    const layout = probe.layout;
    const sizes: [number, number] = [probe.inputSize, probe.outputSize];
    const weights = shared(layout.size);
    layout.flatten(tensors, weights);
    const slotBuffers = Array.from({ length: SLOTS }, () => ({ input: shared(maxBatch * sizes[0]), targets: shared(maxBatch * sizes[1]) }));
    let backend: Backend;
    if (workers === 0) {
      probe.dispose();
      const network = new TrainingNetwork(probeEngine, graph, tensors, maxBatch, settings);
      backend = new InlineBackend(network, weights, slotBuffers);
    } else {
      probeEngine.dispose();
      backend = await WorkerBackend.start(graph, layout, weights, slotBuffers, Math.ceil(maxBatch / workers), workers, settings);
    }
    return new BatchComputer(maxBatch, layout, weights, slotBuffers, sizes, backend);
  }

  /** Number of threads computing (0: the calling thread). */
  get workers(): number {
    return this.backend.threads;
  }

  /** Marks `weights` as updated, so every worker reloads them before its next computation. */
  weightsChanged(): void {
    this.version++;
  }

  /**
   * Loss and gradient of the first `count` images of slot `slot`: returns the summed loss and
   * writes the summed gradient (not averaged) into `into`.
   */
  gradient(slot: number, count: number, into: Float32Array): Promise<number> {
    this.check(slot, count);
    if (into.length !== this.layout.size) throw new TrainingError(`gradient buffer must hold ${this.layout.size} values`);
    return this.backend.run('gradient', slot, count, this.version, into);
  }

  /** Summed loss of the first `count` images of slot `slot` (forward only). */
  loss(slot: number, count: number): Promise<number> {
    this.check(slot, count);
    return this.backend.run('loss', slot, count, this.version, null);
  }

  close(): Promise<void> {
    return this.backend.close();
  }

  private check(slot: number, count: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS) throw new TrainingError(`slot must be 0..${SLOTS - 1}, got ${slot}`);
    if (!Number.isInteger(count) || count < 1 || count > this.maxBatch) throw new TrainingError(`count must be 1..${this.maxBatch}, got ${count}`);
  }
}

interface Backend {
  readonly threads: number;
  run(kind: 'gradient' | 'loss', slot: number, count: number, version: number, into: Float32Array | null): Promise<number>;
  close(): Promise<void>;
}

/** Runs one request on a network whose weights may be stale (shared by the inline backend and workers). */
export class ShardRunner {
  private loadedVersion = -1;
  constructor(
    private readonly network: TrainingNetwork,
    private readonly weights: Float32Array,
    private readonly slots: BatchSlot[],
  ) {}

  run(kind: 'gradient' | 'loss', slot: number, start: number, count: number, version: number, into: Float32Array | null): number {
    if (version !== this.loadedVersion) {
      this.network.setWeights(this.weights);
      this.loadedVersion = version;
    }
    const { input, targets } = this.slots[slot];
    const x = input.subarray(start * this.network.inputSize, (start + count) * this.network.inputSize);
    const t = targets.subarray(start * this.network.outputSize, (start + count) * this.network.outputSize);
    if (kind === 'loss') return this.network.loss(x, t, count);
    this.network.zeroGradients();
    const loss = this.network.accumulate(x, t, count);
    this.network.readGradients(into!);
    return loss;
  }
}

class InlineBackend implements Backend {
  readonly threads = 0;
  private readonly runner: ShardRunner;
  constructor(private readonly network: TrainingNetwork, weights: Float32Array, slots: BatchSlot[]) {
    this.runner = new ShardRunner(network, weights, slots);
  }

  async run(kind: 'gradient' | 'loss', slot: number, count: number, version: number, into: Float32Array | null): Promise<number> {
    return this.runner.run(kind, slot, 0, count, version, into);
  }

  async close(): Promise<void> {
    this.network.dispose();
  }
}

interface PendingReply {
  resolve: (loss: number) => void;
  reject: (error: Error) => void;
}

class WorkerBackend implements Backend {
  private readonly pending = new Map<Worker, PendingReply>();
  private failure: Error | null = null;
  private closing = false;

  private constructor(
    private readonly workers: Worker[],
    private readonly gradients: Float32Array[],
    private readonly maxShard: number,
  ) {
    for (const worker of workers) {
      worker.on('message', (reply: WorkerReply) => {
        const waiting = this.pending.get(worker);
        this.pending.delete(worker);
        if (reply.type === 'done') waiting?.resolve(reply.loss);
        else if (reply.type === 'error') waiting?.reject(new TrainingError(`training worker failed: ${reply.message}`));
      });
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`exited with code ${code}`));
      });
    }
  }

  get threads(): number {
    return this.workers.length;
  }

  static async start(
    graph: GraphSpec, layout: ParameterLayout, weights: Float32Array, slots: BatchSlot[], maxShard: number, count: number,
    settings: NetworkSettings,
  ): Promise<WorkerBackend> {
    const gradients = Array.from({ length: count }, () => shared(layout.size));
    const workers = gradients.map((gradient) => {
      const setup: WorkerSetup = {
        graph,
        layout: layout.entries.map((e) => ({ name: e.name, shape: e.shape })),
        maxShard,
        settings,
        weights: weights.buffer as SharedArrayBuffer,
        gradient: gradient.buffer as SharedArrayBuffer,
        slots: slots.map((s) => ({ input: s.input.buffer as SharedArrayBuffer, targets: s.targets.buffer as SharedArrayBuffer })),
      };
      return spawnWorker(setup);
    });
    try {
      await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
        w.once('message', (reply: WorkerReply) => (reply.type === 'ready' ? resolve() : reject(new TrainingError(`training worker failed to start: ${reply.type === 'error' ? reply.message : reply.type}`))));
        w.once('error', reject);
      })));
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    }
    return new WorkerBackend(workers, gradients, maxShard);
  }

  async run(kind: 'gradient' | 'loss', slot: number, count: number, version: number, into: Float32Array | null): Promise<number> {
    if (this.failure) throw this.failure;
    // contiguous shards, as even as possible; idle workers get nothing
    const shards: { worker: number; start: number; count: number }[] = [];
    const per = Math.ceil(count / this.workers.length);
    for (let w = 0, start = 0; start < count; w++, start += per) shards.push({ worker: w, start, count: Math.min(per, count - start) });
    if (per > this.maxShard) throw new TrainingError(`shard of ${per} images exceeds the workers' capacity ${this.maxShard}`);
    const losses = await Promise.all(shards.map(({ worker, start, count: n }) => this.request(this.workers[worker], { type: kind, slot, start, count: n, version })));
    if (into) {
      into.set(this.gradients[shards[0].worker]);
      for (let s = 1; s < shards.length; s++) {
        const g = this.gradients[shards[s].worker];
        for (let i = 0; i < into.length; i++) into[i] += g[i];
      }
    }
    return losses.reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const w of this.workers) w.postMessage({ type: 'close' } satisfies WorkerRequest);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private request(worker: Worker, message: WorkerRequest): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.set(worker, { resolve, reject });
      worker.postMessage(message);
    });
  }

  private fail(error: Error): void {
    this.failure = new TrainingError(`training worker crashed: ${error.message}`);
    for (const waiting of this.pending.values()) waiting.reject(this.failure);
    this.pending.clear();
  }
}

/** src/tools/train/worker.ts from the sources, worker.js in the compiled package. */
function spawnWorker(setup: WorkerSetup): Worker {
  const extension = path.extname(new URL(import.meta.url).pathname);
  return startWorker(new URL(`./worker${extension}`, import.meta.url), setup);
}
