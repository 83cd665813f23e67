/**
 * Graph validation and shape inference: every tensor's per-image [h, w, c], checked against
 * the weights the file carries. Pure TypeScript, no wasm, so a bad file is rejected before
 * anything is allocated.
 */
import { ModelFormatError } from '../errors.js';
import type { Activation, ConvLayer, GraphSpec, Layer, Padding } from './graph.js';
import type { Tensor } from './model-format.js';

export type Shape = [number, number, number];

export const elements = (s: Shape) => s[0] * s[1] * s[2];

function fail(layer: Layer | null, message: string): never {
  throw new ModelFormatError(layer ? `layer "${layer.output}" (${layer.op}): ${message}` : message);
}

function isPositiveInt(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) > 0;
}

function checkPair(layer: Layer, name: string, v: unknown): asserts v is [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every(isPositiveInt)) fail(layer, `${name} must be two positive integers`);
}

function checkPadding(layer: Layer, v: unknown): asserts v is Padding {
  if (!Array.isArray(v) || v.length !== 4 || !v.every((n) => Number.isInteger(n) && n >= 0)) {
    fail(layer, 'pad must be four non-negative integers [top, left, bottom, right]');
  }
}

function expectTensor(layer: Layer, tensors: Map<string, Tensor>, name: string | undefined, shape: number[]): void {
  if (name === undefined) fail(layer, 'missing weight tensor name');
  const t = tensors.get(name);
  if (!t) fail(layer, `weight tensor "${name}" is not in the file`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    fail(layer, `weight tensor "${name}" has shape [${t.shape}], expected [${shape}]`);
  }
}

function checkActivation(layer: Layer, act: Activation | undefined, channels: number, tensors: Map<string, Tensor>): void {
  if (!act || typeof act !== 'object') fail(layer, 'missing activation');
  switch (act.kind) {
    case 'none':
    case 'relu':
      return;
    case 'leaky':
      if (!Number.isFinite(act.alpha)) fail(layer, 'leaky activation needs a finite alpha');
      return;
    case 'prelu':
      expectTensor(layer, tensors, act.slope, [channels]);
      return;
    default:
      fail(layer, `unknown activation ${(act as { kind: string }).kind}`);
  }
}

/** A depthwise convolution: one group per input channel (inferShapes checks that it keeps the channel count). */
export function isDepthwise(layer: ConvLayer, inputChannels: number): boolean {
  return layer.groups > 1 && layer.groups === inputChannels;
}

/**
 * TF 'SAME' padding along one axis: the output has ceil(in / stride) cells and the missing
 * input is split with the smaller half before (top/left), the larger after.
 */
export function samePadding(inSize: number, kernel: number, stride: number): [number, number] {
  const total = Math.max((Math.ceil(inSize / stride) - 1) * stride + kernel - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

function windowOutput(layer: Layer, size: number, kernel: number, stride: number, padBefore: number, padAfter: number): number {
  const padded = size + padBefore + padAfter;
  if (padded < kernel) fail(layer, `kernel ${kernel} larger than padded input ${padded}`);
  return Math.floor((padded - kernel) / stride) + 1;
}

/** Validates the graph against its tensors and returns every tensor's per-image shape. */
export function inferShapes(graph: GraphSpec, tensors: Map<string, Tensor>): Map<string, Shape> {
  if (!graph || !graph.input || !Array.isArray(graph.layers) || !Array.isArray(graph.outputs)) {
    fail(null, 'graph must have input, layers and outputs');
  }
  const inputShape = graph.input.shape;
  if (!Array.isArray(inputShape) || inputShape.length !== 3 || !inputShape.every(isPositiveInt)) {
    fail(null, 'graph input shape must be three positive integers [h, w, c]');
  }
  const shapes = new Map<string, Shape>([[graph.input.name, [...inputShape] as Shape]]);
  const input = (layer: Layer, name: string): Shape => {
    const s = shapes.get(name);
    if (!s) fail(layer, `input tensor "${name}" is not defined by an earlier layer`);
    return s;
  };
  for (const layer of graph.layers) {
    if (!layer || typeof layer.output !== 'string') fail(null, 'every layer needs an output name');
    if (shapes.has(layer.output)) fail(layer, 'output name is already defined');
    let out: Shape;
    switch (layer.op) {
      case 'conv': {
        const [h, w, c] = input(layer, layer.input);
        checkPair(layer, 'kernel', layer.kernel);
        checkPair(layer, 'stride', layer.stride);
        checkPadding(layer, layer.pad);
        const groups = layer.groups;
        if (!isPositiveInt(layer.cout) || !isPositiveInt(groups) || c % groups || layer.cout % groups) {
          fail(layer, `cout ${layer.cout} and input channels ${c} must be divisible by groups ${groups}`);
        }
        if (groups > 1 && groups === c && layer.cout !== c) fail(layer, 'depthwise convolution must keep the channel count');
        const [kh, kw] = layer.kernel;
        expectTensor(layer, tensors, layer.weights, [kh, kw, c / groups, layer.cout]);
        if (layer.bias !== undefined) expectTensor(layer, tensors, layer.bias, [layer.cout]);
        checkActivation(layer, layer.activation, layer.cout, tensors);
        const [pt, pl, pb, pr] = layer.pad;
        out = [windowOutput(layer, h, kh, layer.stride[0], pt, pb), windowOutput(layer, w, kw, layer.stride[1], pl, pr), layer.cout];
        break;
      }
      case 'maxpool':
      case 'avgpool': {
        const [h, w, c] = input(layer, layer.input);
        checkPair(layer, 'kernel', layer.kernel);
        checkPair(layer, 'stride', layer.stride);
        checkPadding(layer, layer.pad);
        const [pt, pl, pb, pr] = layer.pad;
        if (pt >= layer.kernel[0] || pb >= layer.kernel[0] || pl >= layer.kernel[1] || pr >= layer.kernel[1]) {
          fail(layer, 'pool padding must be smaller than the kernel');
        }
        out = [windowOutput(layer, h, layer.kernel[0], layer.stride[0], pt, pb), windowOutput(layer, w, layer.kernel[1], layer.stride[1], pl, pr), c];
        break;
      }
      case 'globalavgpool': {
        out = [1, 1, input(layer, layer.input)[2]];
        break;
      }
      case 'dense': {
        const n = elements(input(layer, layer.input));
        if (!isPositiveInt(layer.units)) fail(layer, 'units must be a positive integer');
        expectTensor(layer, tensors, layer.weights, [n, layer.units]);
        if (layer.bias !== undefined) expectTensor(layer, tensors, layer.bias, [layer.units]);
        checkActivation(layer, layer.activation, layer.units, tensors);
        out = [1, 1, layer.units];
        break;
      }
      case 'affine': {
        out = [...input(layer, layer.input)];
        expectTensor(layer, tensors, layer.scale, [out[2]]);
        expectTensor(layer, tensors, layer.shift, [out[2]]);
        checkActivation(layer, layer.activation, out[2], tensors);
        break;
      }
      case 'add': {
        if (!Array.isArray(layer.inputs) || layer.inputs.length !== 2) fail(layer, 'add takes two inputs');
        const a = input(layer, layer.inputs[0]);
        const b = input(layer, layer.inputs[1]);
        if (b[0] > a[0] || b[1] > a[1] || b[2] > a[2]) fail(layer, `second input [${b}] is larger than the first [${a}]`);
        checkActivation(layer, layer.activation, a[2], tensors);
        out = [...a];
        break;
      }
      case 'pad': {
        const [h, w, c] = input(layer, layer.input);
        checkPadding(layer, layer.pad);
        if (!Number.isInteger(layer.channels) || layer.channels < c) fail(layer, 'channels must be >= the input channels');
        out = [h + layer.pad[0] + layer.pad[2], w + layer.pad[1] + layer.pad[3], layer.channels];
        break;
      }
      case 'activation': {
        out = [...input(layer, layer.input)];
        checkActivation(layer, layer.activation, out[2], tensors);
        break;
      }
      default:
        fail(null, `unknown layer op "${(layer as { op: string }).op}"`);
    }
    shapes.set(layer.output, out);
  }
  if (graph.outputs.length === 0) fail(null, 'graph has no outputs');
  for (const name of graph.outputs) if (!shapes.has(name)) fail(null, `output "${name}" is not produced by any layer`);
  return shapes;
}
