/**
 * Regression targets from the teacher vectors of the prepared records.
 *
 * Kinds: 'hidden' (the teacher's 256 hidden neurons, ReLU outputs >= 0), 'selected' (a subset
 * of them, see selection.ts), 'desc' (the 128-d descriptor, signed).
 *
 * Targets are standardised during training: 'neuron' ((t - mean) / std per neuron over the
 * training split, std floored at 5% of the mean std so near-constant neurons are not blown up)
 * makes every neuron weigh the same in the L2 loss whatever its scale; 'global' subtracts the
 * per-neuron mean but divides every neuron by ONE scale (the root mean variance), so the loss
 * stays the teacher's own Euclidean metric, only centred and brought to unit size (dlib's
 * descriptor was trained with Euclidean distances: re-weighting its axes would change what the
 * student is asked to preserve). Standardised targets are signed, so the training graph's last
 * layer is linear (no final ReLU). At export the
 * standardisation is folded into the last dense layer (W[:, j] *= std_j, b_j = b_j std_j +
 * mean_j), so the model file outputs teacher-scale values. For hidden/selected targets the
 * exported last layer gets the paper's final ReLU back: the targets are >= 0, so clamping
 * negative outputs to 0 can only bring them closer.
 */
import type { DenseLayer, GraphSpec } from '../../engine/graph.js';
import type { Tensor } from '../../engine/model-format.js';
import { studentGraph, type StudentOptions } from '../../face/student-graph.js';
import { TrainingError } from './errors.js';
import { DESCRIPTOR_SIZE, HIDDEN_SIZE } from '../data/cache.js';
import type { PreparedDataset, TeacherLayer } from './dataset.js';

export type TargetKind = 'hidden' | 'desc' | 'selected';

export interface TargetSpec {
  kind: TargetKind;
  /** For 'selected': indices into the hidden layer. */
  neurons?: number[];
}

export type StandardizeMode = 'neuron' | 'global' | 'none';

export interface Standardization {
  mean: Float32Array;
  std: Float32Array;
}

const teacherLayer = (spec: TargetSpec): TeacherLayer => (spec.kind === 'desc' ? 'desc' : 'hidden');

/** The target neurons as indices into the teacher vector. */
export function targetNeurons(spec: TargetSpec): number[] {
  if (spec.kind === 'selected') {
    const neurons = spec.neurons ?? [];
    if (neurons.length === 0 || neurons.some((j) => !Number.isInteger(j) || j < 0 || j >= HIDDEN_SIZE)) {
      throw new TrainingError(`selected targets need neuron indices in 0..${HIDDEN_SIZE - 1}`);
    }
    return neurons;
  }
  return Array.from({ length: spec.kind === 'desc' ? DESCRIPTOR_SIZE : HIDDEN_SIZE }, (_, j) => j);
}

export class TargetReader {
  readonly size: number;
  private readonly neurons: number[];
  private readonly layer: TeacherLayer;
  private readonly scratch = new Float32Array(HIDDEN_SIZE);

  constructor(
    private readonly dataset: PreparedDataset,
    spec: TargetSpec,
    private readonly standardization: Standardization | null,
  ) {
    this.neurons = targetNeurons(spec);
    this.layer = teacherLayer(spec);
    this.size = this.neurons.length;
    if (standardization && (standardization.mean.length !== this.size || standardization.std.length !== this.size)) {
      throw new TrainingError(`standardisation has ${standardization.mean.length} neurons, the targets ${this.size}`);
    }
  }

  /** Raw (teacher-scale) target of (image, view) into out[at ...]. */
  raw(image: number, view: number, out: Float32Array, at = 0): void {
    this.dataset.teacher(this.layer, image, view, this.scratch);
    for (let j = 0; j < this.size; j++) out[at + j] = this.scratch[this.neurons[j]];
  }

  /** Training target (standardised when configured) of (image, view) into out[at ...]. */
  fill(image: number, view: number, out: Float32Array, at = 0): void {
    this.raw(image, view, out, at);
    const s = this.standardization;
    if (!s) return;
    for (let j = 0; j < this.size; j++) out[at + j] = (out[at + j] - s.mean[j]) / s.std[j];
  }
}

/**
 * Per-neuron mean and standard deviation of the raw targets over `images`, all views: per neuron
 * (floored) for 'neuron', one shared root mean variance for 'global'.
 */
export function computeStandardization(reader: TargetReader, images: Int32Array, views: number, mode: 'neuron' | 'global' = 'neuron'): Standardization {
  const n = reader.size;
  const sum = new Float64Array(n);
  const squares = new Float64Array(n);
  const row = new Float32Array(n);
  for (const image of images) {
    for (let v = 0; v < views; v++) {
      reader.raw(image, v, row);
      for (let j = 0; j < n; j++) {
        sum[j] += row[j];
        squares[j] += row[j] * row[j];
      }
    }
  }
  const count = images.length * views;
  if (count === 0) throw new TrainingError('cannot standardise targets over an empty training split');
  const mean = Float32Array.from(sum, (s) => s / count);
  const std = Float32Array.from(squares, (q, j) => Math.sqrt(Math.max(0, q / count - mean[j] * mean[j])));
  if (mode === 'global') {
    const shared = Math.sqrt(std.reduce((a, s) => a + s * s, 0) / n) || 1;
    return { mean, std: std.fill(shared) };
  }
  const floor = 0.05 * (std.reduce((a, b) => a + b, 0) / n) || 1;
  return { mean, std: std.map((s) => Math.max(s, floor)) };
}

/** The student's layer choices (layout and activation) that a training run fixes. */
export type StudentLayers = Pick<StudentOptions, 'arch' | 'activation'>;

/** The student graph trained for these targets: the last layer is linear unless it regresses raw ReLU neurons. */
export function trainingGraph(outputs: number, spec: TargetSpec, standardized: boolean, layers: StudentLayers = {}): GraphSpec {
  return withLastActivation(studentGraph({ outputs, ...layers }), standardized || spec.kind === 'desc' ? 'none' : 'relu');
}

/** The student graph written to the model file: the paper's final ReLU, except for the signed descriptor. */
export function exportGraph(outputs: number, spec: TargetSpec, layers: StudentLayers = {}): GraphSpec {
  return withLastActivation(studentGraph({ outputs, ...layers }), spec.kind === 'desc' ? 'none' : 'relu');
}

function withLastActivation(graph: GraphSpec, kind: 'none' | 'relu'): GraphSpec {
  const layers = [...graph.layers];
  const last = layers[layers.length - 1] as DenseLayer;
  layers[layers.length - 1] = { ...last, activation: { kind } };
  return { ...graph, layers };
}

/** Copies of `tensors` with the standardisation folded into the last dense layer of `graph`. */
export function foldStandardization(graph: GraphSpec, tensors: Map<string, Tensor>, s: Standardization): Map<string, Tensor> {
  const last = graph.layers[graph.layers.length - 1];
  if (last.op !== 'dense' || last.bias === undefined) throw new TrainingError('the last layer must be a dense layer with a bias');
  const out = new Map([...tensors].map(([name, t]) => [name, { shape: [...t.shape], data: t.data.slice() }]));
  const w = out.get(last.weights)!.data;
  const b = out.get(last.bias)!.data;
  const units = last.units;
  for (let i = 0; i < w.length; i++) w[i] *= s.std[i % units];
  for (let j = 0; j < units; j++) b[j] = b[j] * s.std[j] + s.mean[j];
  return out;
}
