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
 * student is asked to preserve). 'identity' (descriptor targets) measures the error in units of
 * how much one person's faces vary: the centred targets are turned into the eigenbasis of the
 * teacher's within-identity covariance (fitted on an identity-labelled set of the training split,
 * shrunk towards its mean eigenvalue) and each axis divided by its within-identity spread, then all
 * by one scale so the mean target variance stays 1. An error along an axis on which one person's
 * faces hardly vary, but people differ, then costs as much as it hurts verification, where the
 * teacher's own metric weighs it by its small amplitude. Standardised targets are signed, so the
 * training graph's last layer is linear (no final ReLU). At export the standardisation is folded
 * into the last dense layer (raw = basis^T (y * std) + mean), so the model file outputs
 * teacher-scale values. For hidden/selected targets the
 * exported last layer gets the paper's final ReLU back: the targets are >= 0, so clamping
 * negative outputs to 0 can only bring them closer.
 */
import type { DenseLayer, GraphSpec } from '../../engine/graph.js';
import { symmetricEigen, withinGroupCovariance } from '../../math/linalg.js';
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

export type StandardizeMode = 'neuron' | 'global' | 'identity' | 'none';

/** standardised = (basis (raw - mean)) / std, basis an orthonormal rotation (the identity when absent). */
export interface Standardization {
  mean: Float32Array;
  std: Float32Array;
  /** size x size, row-major: row j is the j-th axis of the standardised space in raw coordinates. */
  basis?: Float32Array;
}

/** A standardisation as a run log stores it (JSON arrays). */
export interface StandardizationRecord {
  mean: number[];
  std: number[];
  basis?: number[];
}

export function standardizationFromRecord(r: StandardizationRecord): Standardization {
  return { mean: Float32Array.from(r.mean), std: Float32Array.from(r.std), ...(r.basis ? { basis: Float32Array.from(r.basis) } : {}) };
}

export function standardizationRecord(s: Standardization): StandardizationRecord {
  return { mean: Array.from(s.mean), std: Array.from(s.std), ...(s.basis ? { basis: Array.from(s.basis) } : {}) };
}

/** The vector being rotated (standardize and destandardize run once per training target: no allocation there). */
let rotationScratch = new Float32Array(DESCRIPTOR_SIZE);

function copyForRotation(values: Float32Array, at: number, n: number): Float32Array {
  if (rotationScratch.length < n) rotationScratch = new Float32Array(n);
  rotationScratch.set(values.subarray(at, at + n));
  return rotationScratch;
}

/** Standardised units of one raw target vector (in place). */
export function standardize(s: Standardization, values: Float32Array, at = 0): void {
  const n = s.mean.length;
  for (let j = 0; j < n; j++) values[at + j] -= s.mean[j];
  if (s.basis) {
    const centred = copyForRotation(values, at, n);
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += s.basis[j * n + k] * centred[k];
      values[at + j] = sum;
    }
  }
  for (let j = 0; j < n; j++) values[at + j] /= s.std[j];
}

/** Raw (teacher-scale) values of one standardised vector (in place): the inverse of standardize. */
export function destandardize(s: Standardization, values: Float32Array, at = 0): void {
  const n = s.mean.length;
  for (let j = 0; j < n; j++) values[at + j] *= s.std[j];
  if (s.basis) {
    const rotated = copyForRotation(values, at, n);
    for (let k = 0; k < n; k++) {
      let sum = 0;
      for (let j = 0; j < n; j++) sum += s.basis[j * n + k] * rotated[j];
      values[at + k] = sum;
    }
  }
  for (let j = 0; j < n; j++) values[at + j] += s.mean[j];
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

/** What the standardisations read of the targets: their size and raw values. */
export type TargetSource = Pick<TargetReader, 'size' | 'raw'>;

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
    if (this.standardization) standardize(this.standardization, out, at);
  }
}

/**
 * Per-neuron mean and standard deviation of the raw targets over `images`, all views: per neuron
 * (floored) for 'neuron', one shared root mean variance for 'global'.
 */
export function computeStandardization(reader: TargetSource, images: Int32Array, views: number, mode: 'neuron' | 'global' = 'neuron'): Standardization {
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

/**
 * The 'identity' standardisation: the per-neuron mean over `images` (all views), and the
 * eigenbasis of the within-identity covariance of view 0 over the images `identityOf` names an
 * identity for (identities with one image say nothing of it and are skipped), its eigenvalues
 * shrunk towards their mean by `shrink` (0..1: 1 gives the 'global' metric back, rotated) so axes
 * on which few faces vary are not blown up. One shared factor then brings the mean variance of
 * the standardised targets over `images` to 1, as the other modes have it.
 */
export function computeIdentityStandardization(
  reader: TargetSource, images: Int32Array, views: number, identityOf: (image: number) => string | null, shrink: number,
): Standardization {
  if (!(shrink >= 0 && shrink <= 1)) throw new TrainingError(`shrink must be in 0..1, got ${shrink}`);
  const n = reader.size;
  const { mean } = computeStandardization(reader, images, views, 'global');
  const groups = new Map<string, Float32Array[]>();
  const row = new Float32Array(n);
  for (const image of images) {
    const identity = identityOf(image);
    if (identity === null) continue;
    reader.raw(image, 0, row);
    groups.set(identity, [...(groups.get(identity) ?? []), row.slice()]);
  }
  const { covariance: within, degrees } = withinGroupCovariance([...groups.values()], n);
  if (degrees < n) throw new TrainingError(`the within-identity covariance of ${n} targets needs more than ${degrees} degrees of freedom: too few identities with two or more training images`);
  const { values, vectors } = symmetricEigen(within, n);
  const meanValue = values.reduce((a, v) => a + v, 0) / n;
  const basis = new Float32Array(n * n);
  for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) basis[j * n + k] = vectors[k * n + j];
  const spread = Float32Array.from(values, (v) => Math.sqrt((1 - shrink) * Math.max(v, 0) + shrink * meanValue));
  // the variance of the targets along each axis, in units of its spread
  const unscaled: Standardization = { mean, std: spread, basis };
  let squares = 0;
  for (const image of images) {
    for (let v = 0; v < views; v++) {
      reader.raw(image, v, row);
      standardize(unscaled, row);
      for (let j = 0; j < n; j++) squares += row[j] * row[j];
    }
  }
  const scale = Math.sqrt(squares / (images.length * views * n));
  return { mean, std: spread.map((s) => s * scale), basis };
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
  return mapLastLayer(graph, tensors, s, destandardize);
}

/** Inverse of foldStandardization: the last dense layer's weights and bias in standardised units. */
export function unfoldStandardization(graph: GraphSpec, tensors: Map<string, Tensor>, s: Standardization): Map<string, Tensor> {
  return mapLastLayer(graph, tensors, s, standardize);
}

/**
 * The last dense layer with `map` applied to its output space: to the bias as a point, to each
 * input's row of weights as a direction (the mean is an offset of points only).
 */
function mapLastLayer(
  graph: GraphSpec, tensors: Map<string, Tensor>, s: Standardization, map: (s: Standardization, values: Float32Array, at?: number) => void,
): Map<string, Tensor> {
  const last = graph.layers[graph.layers.length - 1];
  if (last.op !== 'dense' || last.bias === undefined) throw new TrainingError('the last layer must be a dense layer with a bias');
  const out = new Map([...tensors].map(([name, t]) => [name, { shape: [...t.shape], data: t.data.slice() }]));
  const w = out.get(last.weights)!.data;
  const b = out.get(last.bias)!.data;
  const units = last.units;
  if (s.mean.length !== units) throw new TrainingError(`standardisation has ${s.mean.length} neurons, the last layer ${units}`);
  const direction: Standardization = { ...s, mean: new Float32Array(units) };
  for (let at = 0; at < w.length; at += units) map(direction, w, at);
  map(s, b);
  return out;
}
