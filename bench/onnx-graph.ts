/**
 * Writes a student graph as an ONNX model (NCHW) with the same weights as our HWIO/NHWC copy,
 * so onnxruntime-web runs the identical network in the benchmark. A minimal protobuf
 * writer: only the ONNX fields this graph needs.
 */
import type { Activation, GraphSpec } from '../src/engine/graph.js';
import type { Tensor } from '../src/engine/model-format.js';
import { inferShapes } from '../src/engine/plan.js';

type Field = [number, number | bigint | string | Uint8Array | Field[] | Float32Array];

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return out;
}

function encode(fields: Field[]): Uint8Array {
  const parts: number[] = [];
  for (const [num, value] of fields) {
    if (typeof value === 'number' || typeof value === 'bigint') {
      parts.push(...varint(BigInt(num << 3)), ...varint(BigInt(value)));
      continue;
    }
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value)
      : value instanceof Float32Array ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
      : value instanceof Uint8Array ? value : encode(value);
    parts.push(...varint(BigInt((num << 3) | 2)), ...varint(BigInt(bytes.length)));
    for (let i = 0; i < bytes.length; i++) parts.push(bytes[i]);
  }
  return Uint8Array.from(parts);
}

const tensorProto = (name: string, dims: number[], data: Float32Array): Field[] => [
  ...dims.map((d): Field => [1, d]), [2, 1], [8, name], [9, data],
];
const ints = (name: string, values: number[]): Field[] => [[1, name], [20, 7], ...values.map((v): Field => [8, v])];
const int = (name: string, value: number): Field[] => [[1, name], [20, 2], [3, value]];
const node = (op: string, inputs: string[], output: string, attributes: Field[][] = []): Field[] => [
  ...inputs.map((i): Field => [1, i]), [2, output], [3, output], [4, op], ...attributes.map((a): Field => [5, a]),
];
const valueInfo = (name: string, dims: (number | string)[]): Field[] => [
  [1, name],
  [2, [[1, [[1, 1], [2, dims.map((d): Field => [1, typeof d === 'number' ? [[1, d]] : [[2, d]]])]]]]],
];

/** HWIO -> OIHW. */
function toOihw(t: Tensor): { dims: number[]; data: Float32Array } {
  const [kh, kw, ci, co] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) {
    out[((o * ci + i) * kh + y) * kw + x] = t.data[((y * kw + x) * ci + i) * co + o];
  }
  return { dims: [co, ci, kh, kw], data: out };
}

/** A dense layer's rows from our (h, w, c) flatten order to ONNX's (c, h, w) order. */
function reorderRows(t: Tensor, h: number, w: number, c: number): Float32Array {
  const units = t.shape[1];
  const out = new Float32Array(t.data.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) {
    const ours = (y * w + x) * c + ch;
    const theirs = (ch * h + y) * w + x;
    out.set(t.data.subarray(ours * units, (ours + 1) * units), theirs * units);
  }
  return out;
}

/**
 * The graph (conv, grouped or depthwise included, max pool, dense; ReLU, PReLU or no activation:
 * what the MobileID students use) as an ONNX model taking NCHW input `input`.
 */
export function graphOnnx(graph: GraphSpec, weights: Map<string, Tensor>): Uint8Array {
  const shapes = inferShapes(graph, weights);
  const nodes: Field[][] = [];
  const inits: Field[][] = [];
  const names = new Map<string, string>([[graph.input.name, 'input']]);
  // spatial: the slopes of a conv output (N, C, H, W) broadcast as [C, 1, 1]
  const activate = (layer: { output: string; activation?: Activation }, raw: string, spatial: boolean) => {
    const act = layer.activation ?? { kind: 'none' };
    if (act.kind === 'none') return raw;
    if (act.kind === 'relu') {
      nodes.push(node('Relu', [raw], `${raw}.relu`));
      return `${raw}.relu`;
    }
    if (act.kind !== 'prelu') throw new Error(`graphOnnx: activation ${act.kind} is not supported`);
    const slope = weights.get(act.slope)!.data;
    inits.push(tensorProto(act.slope, spatial ? [slope.length, 1, 1] : [slope.length], slope));
    nodes.push(node('PRelu', [raw, act.slope], `${raw}.prelu`));
    return `${raw}.prelu`;
  };
  for (const layer of graph.layers) {
    if (!('input' in layer)) throw new Error(`graphOnnx: op ${layer.op} is not supported`);
    const x = names.get(layer.input)!;
    if (layer.op === 'conv') {
      // HWIO [kh][kw][cin/groups][cout] -> OIHW [cout][cin/groups][kh][kw]: ONNX's layout of grouped weights too
      const w = toOihw(weights.get(layer.weights)!);
      const [pt, pl, pb, pr] = layer.pad;
      inits.push(tensorProto(layer.weights, w.dims, w.data), tensorProto(layer.bias!, [w.dims[0]], weights.get(layer.bias!)!.data));
      nodes.push(node('Conv', [x, layer.weights, layer.bias!], layer.output, [
        ints('kernel_shape', w.dims.slice(2)), ints('pads', [pt, pl, pb, pr]), ints('strides', layer.stride), int('group', layer.groups),
      ]));
      names.set(layer.output, activate(layer, layer.output, true));
    } else if (layer.op === 'maxpool') {
      nodes.push(node('MaxPool', [x], layer.output, [ints('kernel_shape', layer.kernel), ints('strides', layer.stride)]));
      names.set(layer.output, layer.output);
    } else if (layer.op === 'dense') {
      const [h, w, c] = shapes.get(layer.input)!;
      const t = weights.get(layer.weights)!;
      let input = x;
      // 4-d (N, C, H, W) unless it comes from another dense layer
      if (graph.layers.find((l) => l.output === layer.input)?.op !== 'dense') {
        nodes.push(node('Flatten', [x], `${layer.output}.flat`, [int('axis', 1)]));
        input = `${layer.output}.flat`;
      }
      inits.push(tensorProto(layer.weights, t.shape, reorderRows(t, h, w, c)), tensorProto(layer.bias!, [t.shape[1]], weights.get(layer.bias!)!.data));
      nodes.push(node('Gemm', [input, layer.weights, layer.bias!], layer.output));
      names.set(layer.output, activate(layer, layer.output, false));
    } else {
      throw new Error(`graphOnnx: op ${layer.op} is not supported`);
    }
  }
  const [h, w, c] = graph.input.shape;
  const output = graph.outputs[0];
  const outputSize = shapes.get(output)!.reduce((a, b) => a * b, 1);
  const onnxGraph: Field[] = [
    ...nodes.map((n): Field => [1, n]),
    [2, graph.name.replace(/\W/g, '_')],
    ...inits.map((t): Field => [5, t]),
    [11, valueInfo('input', ['N', c, h, w])],
    [12, valueInfo(names.get(output)!, ['N', outputSize])],
  ];
  return encode([[1, 8], [8, [[1, ''], [2, 13]]], [7, onnxGraph]]);
}
