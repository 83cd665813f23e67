/**
 * Integer inference: the number formats shared by the quantiser (tools/quantize.ts) and the
 * engine's integer path (model.ts, assembly/quantized.ts).
 * - Weights: symmetric int8 with one scale per output channel, scale = max |w| / 127; dense
 *   layers may hold 4-bit codes instead (i4 tensors, chosen by tools/quantize.ts, run by denseInt4).
 * - Activations: one scale per tensor (graph.quantization), values held as 8-bit codes. A tensor
 *   written through a ReLU is unsigned (codes 0..255, so ReLU is the clamp of the
 *   requantisation); any other tensor is signed (-127..127). Max pooling moves codes unchanged
 *   (the max commutes with a positive scale), so its output keeps its input's scale and range.
 * - Accumulation in i32; a layer whose output is a graph output no later layer reads writes f32.
 */
import type { Activation, GraphSpec, Layer } from './graph.js';
import type { Tensor } from './model-format.js';
import { isDepthwise, type Shape } from './plan.js';

export const WEIGHT_CODE_MAX = 127;
export const SIGNED_CODES = { lo: -127, hi: 127 } as const;
export const UNSIGNED_CODES = { lo: 0, hi: 255 } as const;

export type CodeRange = { lo: number; hi: number };

/** The ops the integer kernels run. */
const INTEGER_OPS = new Set<Layer['op']>(['conv', 'maxpool', 'dense', 'add']);

/** Symmetric per-output-channel int8 copy of a weight tensor (last axis = output channels). */
export function quantizeWeights(tensor: Tensor): Tensor {
  const channels = tensor.shape[tensor.shape.length - 1];
  const scales = new Float32Array(channels);
  tensor.data.forEach((v, i) => {
    const c = i % channels;
    scales[c] = Math.max(scales[c], Math.abs(v));
  });
  // an all-zero channel keeps scale 1 (format: scales are positive); its codes are 0 anyway
  scales.forEach((m, c) => (scales[c] = m > 0 ? m / WEIGHT_CODE_MAX : 1));
  const codes = new Int8Array(tensor.data.length);
  const data = new Float32Array(tensor.data.length);
  tensor.data.forEach((v, i) => {
    const s = scales[i % channels];
    codes[i] = Math.max(-WEIGHT_CODE_MAX, Math.min(WEIGHT_CODE_MAX, Math.round(v / s)));
    data[i] = codes[i] * s;
  });
  return { shape: [...tensor.shape], data, quantized: { bits: 8, codes, scales } };
}

/** Why the integer kernels cannot run this graph (first offending layer), or null. `shapes`: inferShapes'. */
export function integerUnsupported(graph: GraphSpec, shapes: Map<string, Shape>): string | null {
  for (const layer of graph.layers) {
    if (!INTEGER_OPS.has(layer.op)) return `layer "${layer.output}" (${layer.op}) has no integer kernel (conv, maxpool, dense and add have)`;
    if (layer.op === 'add' && shapes.get(layer.inputs[0])!.join() !== shapes.get(layer.inputs[1])!.join()) {
      return `layer "${layer.output}": the integer add takes tensors of equal shapes`;
    }
    if (layer.op === 'add' && layer.activation.kind === 'prelu') return `layer "${layer.output}": the integer add has no PReLU`;
    if (layer.op === 'conv' && layer.groups !== 1 && !isDepthwise(layer, shapes.get(layer.input)![2])) {
      return `layer "${layer.output}": grouped convolutions other than depthwise have no integer kernel`;
    }
  }
  return null;
}

/** Code range of a tensor written through `activation` (null: a graph input, signed). */
export function codeRangeAfter(activation: Activation | null): CodeRange {
  return activation?.kind === 'relu' ? UNSIGNED_CODES : SIGNED_CODES;
}

/**
 * Code range of every tensor of an integer graph: the input signed, a conv/dense/add output by
 * its activation, a max pool's output as its input.
 */
export function codeRanges(graph: GraphSpec): Map<string, CodeRange> {
  const ranges = new Map<string, CodeRange>([[graph.input.name, codeRangeAfter(null)]]);
  for (const layer of graph.layers) {
    if (layer.op === 'maxpool') ranges.set(layer.output, ranges.get(layer.input) ?? SIGNED_CODES);
    else if (layer.op === 'conv' || layer.op === 'dense' || layer.op === 'add') ranges.set(layer.output, codeRangeAfter(layer.activation));
  }
  return ranges;
}

/** Graph outputs written as f32 by their layer: produced by conv/dense and read by no later layer. */
export function floatOutputs(graph: GraphSpec): Set<string> {
  const read = new Set(graph.layers.flatMap((l) => (l.op === 'add' ? l.inputs : [l.input])));
  const producers = new Map(graph.layers.map((l) => [l.output, l.op]));
  return new Set(graph.outputs.filter((name) => !read.has(name) && ['conv', 'dense'].includes(producers.get(name) ?? '')));
}
