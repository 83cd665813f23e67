/**
 * Post-training quantisation of any conv / dense / max-pool model of the engine (number formats
 * in engine/quantization.ts). Weights: int8 per output channel, from the weights alone.
 * Activations: one scale per tensor, calibrated by running the float model on sample inputs
 * (faces from the training sets, never the evaluation set) and taking the largest |value| (or a
 * percentile of them, saturating the rarer larger values) as the end of its code range.
 * Optionally, named dense layers get 4-bit weights instead (codes -7..7, one scale per output
 * channel), chosen by GPTQ (gptq.ts) on the same calibration inputs: a large fully connected
 * layer holds most of a small CNN's weights, and 4 bits halve its bytes.
 */
import type { Engine } from '../engine/engine.js';
import type { GraphSpec } from '../engine/graph.js';
import type { DecodedModel, QuantizedValues, Tensor } from '../engine/model-format.js';
import { elements, inferShapes } from '../engine/plan.js';
import { codeRanges, integerUnsupported, quantizeWeights } from '../engine/quantization.js';
import { MobileIdError } from '../errors.js';
import { accumulateGram, channelScales, gptqCodes } from './gptq.js';

/** Largest 4-bit weight code: symmetric, so -8 is left unused as -128 is for int8. */
export const INT4_CODE_MAX = 7;

/** The model cannot be quantised (an op without integer kernel, no calibration data, bad option). */
export class QuantizationError extends MobileIdError {}

export interface CalibrationOptions {
  /** Percentile of |value| (per tensor, over the sample) mapped to the largest code. Default 100 (the largest). */
  percentile?: number;
  /** Inputs run through the float model at a time. Default 32. */
  batch?: number;
}

/** |values| kept per image and tensor (evenly strided), enough for a 99.99th percentile. */
const SAMPLES_PER_IMAGE = 1024;
/**
 * The largest |value|: on 1,024 held-out training faces the student's int8 embeddings, centred on
 * the float ones' mean, had cosine 0.99933 (mean) / 0.9938 (min) to the float ones with it,
 * against 0.99938 / 0.9921 at the 99.999th percentile, 0.99860 / 0.9724 at the 99.99th and
 * 0.99134 / 0.8907 at the 99.9th: clipping activations costs more than coarser steps.
 */
export const DEFAULT_PERCENTILE = 100;

/**
 * Activation scales (graph.quantization.activations) of `model` from `count` preprocessed inputs
 * (NHWC, batch-major): every tensor's percentile of |value| over the inputs, divided by its
 * largest code (255 after a ReLU, 127 otherwise). Max-pool outputs take their input's scale.
 */
export function calibrateScales(engine: Engine, model: DecodedModel, inputs: Float32Array, count: number, options: CalibrationOptions = {}): Record<string, number> {
  const { graph } = model;
  const shapes = inferShapes(graph, model.tensors);
  const unsupported = integerUnsupported(graph, shapes);
  if (unsupported) throw new QuantizationError(`cannot quantise "${graph.name}": ${unsupported}`);
  const percentile = options.percentile ?? DEFAULT_PERCENTILE;
  if (!(percentile > 0 && percentile <= 100)) throw new QuantizationError(`percentile must be in (0, 100], got ${percentile}`);
  const perImage = elements(shapes.get(graph.input.name)!);
  if (!Number.isInteger(count) || count < 1 || inputs.length !== count * perImage) {
    throw new QuantizationError(`calibration needs at least one input of ${perImage} values; got ${inputs.length} values for ${count}`);
  }
  const ranges = codeRanges(graph);
  // the tensors with scales of their own: the input and every conv / dense output
  const measured = [graph.input.name, ...graph.layers.filter((l) => l.op !== 'maxpool').map((l) => l.output)];
  const probe: GraphSpec = { ...graph, outputs: measured };
  const batch = Math.max(1, Math.min(options.batch ?? 32, count));
  const loaded = engine.loadModel({ graph: probe, tensors: model.tensors }, { batch, precision: 'f32' });
  const samples = measured.map(() => [] as number[]);
  const largest = measured.map(() => 0);
  try {
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      const outputs = loaded.runAll(inputs.subarray(start * perImage, (start + n) * perImage), n);
      outputs.forEach((values, t) => {
        const size = values.length / n;
        const stride = Math.max(1, Math.floor(size / SAMPLES_PER_IMAGE));
        for (let image = 0; image < n; image++) {
          for (let i = 0; i < size; i += stride) samples[t].push(Math.abs(values[image * size + i]));
        }
        for (const v of values) largest[t] = Math.max(largest[t], Math.abs(v));
      });
    }
  } finally {
    loaded.dispose();
  }
  const scales: Record<string, number> = {};
  measured.forEach((name, t) => {
    const sorted = Float64Array.from(samples[t]).sort();
    const edge = percentile === 100 ? largest[t] : sorted[Math.min(sorted.length - 1, Math.floor((percentile / 100) * sorted.length))];
    // a tensor that is zero on every sample still needs a positive scale
    scales[name] = edge > 0 ? edge / ranges.get(name)!.hi : 1;
  });
  for (const layer of graph.layers) if (layer.op === 'maxpool') scales[layer.output] = scales[layer.input];
  return scales;
}

/**
 * 4-bit weights of the named dense layers: per output channel the scale whose plain rounding errs
 * least, then GPTQ codes from the layer's inputs when the float model runs on `inputs` (`count`
 * preprocessed inputs, as for calibrateScales). Keyed by weight tensor name, for quantizeModel.
 */
export function fourBitDenseWeights(
  engine: Engine, model: DecodedModel, inputs: Float32Array, count: number, layerNames: string[],
): Map<string, QuantizedValues> {
  const { graph } = model;
  if (layerNames.length === 0) return new Map(); // --int4 none: every layer keeps 8-bit weights
  const layers = layerNames.map((name) => {
    const layer = graph.layers.find((l) => l.output === name);
    if (layer?.op !== 'dense') throw new QuantizationError(`4-bit weights: "${name}" is not a dense layer of "${graph.name}" (dense layers: ${graph.layers.filter((l) => l.op === 'dense').map((l) => l.output).join(', ')})`);
    return layer;
  });
  const shapes = inferShapes(graph, model.tensors);
  const perImage = elements(shapes.get(graph.input.name)!);
  if (!Number.isInteger(count) || count < 1 || inputs.length !== count * perImage) {
    throw new QuantizationError(`4-bit weights need at least one input of ${perImage} values; got ${inputs.length} values for ${count}`);
  }
  const sizes = layers.map((l) => elements(shapes.get(l.input)!));
  const grams = sizes.map((d) => new Float64Array(d * d));
  const batch = Math.min(32, count);
  const loaded = engine.loadModel({ graph: { ...graph, outputs: layers.map((l) => l.input) }, tensors: model.tensors }, { batch, precision: 'f32' });
  try {
    for (let start = 0; start < count; start += batch) {
      const n = Math.min(batch, count - start);
      loaded.runAll(inputs.subarray(start * perImage, (start + n) * perImage), n).forEach((x, t) => accumulateGram(grams[t], x, n, sizes[t]));
    }
  } finally {
    loaded.dispose();
  }
  return new Map(layers.map((layer, t) => {
    const w = model.tensors.get(layer.weights)!.data;
    const scales = channelScales(w, sizes[t], layer.units, INT4_CODE_MAX);
    const codes = gptqCodes(w, sizes[t], layer.units, scales, INT4_CODE_MAX, grams[t]);
    return [layer.weights, { bits: 4, codes, scales }];
  }));
}

/**
 * The quantised model: conv / dense weights as i8 (or the 4-bit values given for them), the
 * activation scales, provenance in meta.
 */
export function quantizeModel(
  model: DecodedModel, scales: Record<string, number>, provenance: Record<string, unknown> = {},
  fourBit = new Map<string, QuantizedValues>(),
): DecodedModel {
  const weightNames = new Set(model.graph.layers.flatMap((l) => (l.op === 'conv' || l.op === 'dense' ? [l.weights] : [])));
  const tensors = new Map<string, Tensor>();
  for (const [name, tensor] of model.tensors) {
    const given = fourBit.get(name);
    if (given) tensors.set(name, { shape: [...tensor.shape], data: Float32Array.from(given.codes, (c, i) => c * given.scales[i % given.scales.length]), quantized: given });
    else tensors.set(name, weightNames.has(name) ? quantizeWeights(tensor) : tensor);
  }
  const graph: GraphSpec = {
    ...model.graph,
    quantization: { activations: scales },
    meta: { ...model.graph.meta, quantization: provenance },
  };
  return { graph, tensors };
}

export interface Agreement {
  /** Mean and smallest cosine similarity between the two embeddings of a face. */
  meanCosine: number;
  minCosine: number;
  /**
   * The same with both embeddings centred on the reference embeddings' mean: what cosine
   * verification sees when the embeddings share a large common part (the student's do).
   */
  meanCentredCosine: number;
  minCentredCosine: number;
  /** Largest |a - b| / |a| over the faces. */
  maxRelativeError: number;
}

/** How alike two runs' embeddings (count x dim, same faces in the same order) are. */
export function embeddingAgreement(reference: Float32Array, other: Float32Array, dim: number): Agreement {
  if (reference.length !== other.length || reference.length % dim) throw new QuantizationError('embeddings of different shapes');
  const count = reference.length / dim;
  const mean = new Float64Array(dim);
  for (let k = 0; k < reference.length; k++) mean[k % dim] += reference[k] / count;
  const cosines = (centre: ArrayLike<number>) => {
    let sum = 0;
    let min = Infinity;
    for (let f = 0; f < count; f++) {
      let dot = 0, aa = 0, bb = 0;
      for (let k = 0; k < dim; k++) {
        const a = reference[f * dim + k] - centre[k];
        const b = other[f * dim + k] - centre[k];
        dot += a * b;
        aa += a * a;
        bb += b * b;
      }
      const cosine = aa > 0 && bb > 0 ? dot / Math.sqrt(aa * bb) : aa === bb ? 1 : 0;
      sum += cosine;
      min = Math.min(min, cosine);
    }
    return { mean: sum / count, min };
  };
  let maxRelativeError = 0;
  for (let f = 0; f < count; f++) {
    let aa = 0, diff = 0;
    for (let k = f * dim; k < (f + 1) * dim; k++) {
      aa += reference[k] ** 2;
      diff += (reference[k] - other[k]) ** 2;
    }
    maxRelativeError = Math.max(maxRelativeError, aa > 0 ? Math.sqrt(diff / aa) : Math.sqrt(diff));
  }
  const plain = cosines(new Float64Array(dim));
  const centred = cosines(mean);
  return { meanCosine: plain.mean, minCosine: plain.min, meanCentredCosine: centred.mean, minCentredCosine: centred.min, maxRelativeError };
}
