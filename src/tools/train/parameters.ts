/**
 * All trainable tensors of a graph as one flat f32 vector (the "master weights"): conv and
 * dense weights in their canonical file layout (conv HWIO, dense [in][out]) followed by their
 * bias, PReLU slopes (without decay, as He et al. train them) and, with batch norm, its gamma,
 * beta, running mean and variance (batch-norm.ts), layer by layer. Gradients, optimiser moments
 * and the shared buffers between workers use the same layout, so every exchange is one
 * contiguous copy.
 */
import type { GraphSpec } from '../../engine/graph.js';
import type { Tensor } from '../../engine/model-format.js';
import { inferShapes } from '../../engine/plan.js';
import { batchNormNames, normalizedLayers } from './batch-norm.js';
import { TrainingError } from './errors.js';

export interface ParameterEntry {
  name: string;
  shape: number[];
  /** First element in the flat vector. */
  offset: number;
  length: number;
  /** Weight decay applies to weights, not to biases. */
  decay: boolean;
  /** A batch-norm running statistic: not trained; its gradient slot carries batch statistics (batch-norm.ts). */
  statistic: boolean;
}

export class ParameterLayout {
  readonly size: number;
  private readonly byName: Map<string, ParameterEntry>;

  private constructor(readonly entries: ParameterEntry[]) {
    this.size = entries.reduce((sum, e) => sum + e.length, 0);
    this.byName = new Map(entries.map((e) => [e.name, e]));
  }

  /**
   * The layout of `graph`'s conv and dense tensors, with shapes checked against `tensors`; with
   * `batchNorm` also the normalisation tensors of every normalised layer (batch-norm.ts).
   */
  static of(graph: GraphSpec, tensors: Map<string, Tensor>, batchNorm = false): ParameterLayout {
    inferShapes(graph, tensors);
    const normalized = new Set(batchNorm ? normalizedLayers(graph) : []);
    const entries: ParameterEntry[] = [];
    let offset = 0;
    const add = (name: string, decay: boolean, statistic = false, channels?: number) => {
      const tensor = tensors.get(name);
      if (!tensor) throw new TrainingError(`tensor "${name}" is missing`);
      const length = tensor.shape.reduce((a, b) => a * b, 1);
      if (channels !== undefined && length !== channels) throw new TrainingError(`tensor "${name}" has ${length} values, expected ${channels}`);
      entries.push({ name, shape: [...tensor.shape], offset, length, decay, statistic });
      offset += length;
    };
    for (const layer of graph.layers) {
      if (layer.op !== 'conv' && layer.op !== 'dense') continue;
      add(layer.weights, true);
      if (layer.bias !== undefined) add(layer.bias, false);
      const channels = layer.op === 'conv' ? layer.cout : layer.units;
      if (layer.activation.kind === 'prelu') add(layer.activation.slope, false, false, channels);
      if (!normalized.has(layer)) continue;
      const names = batchNormNames(layer);
      add(names.gamma, false, false, channels);
      add(names.beta, false, false, channels);
      add(names.mean, false, true, channels);
      add(names.variance, false, true, channels);
    }
    return new ParameterLayout(entries);
  }

  /** The running statistics (not trained; see batch-norm.ts). */
  get statistics(): ParameterEntry[] {
    return this.entries.filter((e) => e.statistic);
  }

  entry(name: string): ParameterEntry {
    const entry = this.byName.get(name);
    if (!entry) throw new TrainingError(`no trainable tensor named "${name}"`);
    return entry;
  }

  /** The part of a flat vector that holds tensor `name` (a view, not a copy). */
  view(vector: Float32Array, name: string): Float32Array {
    const { offset, length } = this.entry(name);
    return vector.subarray(offset, offset + length);
  }

  /** Tensors -> flat vector. */
  flatten(tensors: Map<string, Tensor>, into: Float32Array = new Float32Array(this.size)): Float32Array {
    this.checkLength(into);
    for (const e of this.entries) {
      const t = tensors.get(e.name);
      if (!t || t.data.length !== e.length) throw new TrainingError(`tensor "${e.name}" is missing or has the wrong size`);
      into.set(t.data, e.offset);
    }
    return into;
  }

  /** Flat vector -> tensors (copies, safe to keep after the vector changes). */
  tensors(vector: Float32Array): Map<string, Tensor> {
    this.checkLength(vector);
    return new Map(this.entries.map((e) => [e.name, { shape: [...e.shape], data: vector.slice(e.offset, e.offset + e.length) }]));
  }

  /** 1 where weight decay applies, 0 elsewhere. */
  decayMask(): Uint8Array {
    const mask = new Uint8Array(this.size);
    for (const e of this.entries) if (e.decay) mask.fill(1, e.offset, e.offset + e.length);
    return mask;
  }

  private checkLength(vector: Float32Array): void {
    if (vector.length !== this.size) throw new TrainingError(`parameter vector has ${vector.length} values, the layout needs ${this.size}`);
  }
}
