/**
 * Writes the MobileID student as an ONNX model (NCHW) with the same weights as our HWIO/NHWC
 * copy, so onnxruntime-web runs the identical network in the benchmark. A minimal protobuf
 * writer: only the ONNX fields this graph needs.
 */
import type { Tensor } from '../src/engine/model-format.js';

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

/** fc1 rows from our (h, w, c) flatten order to ONNX's (c, h, w) order. */
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

export function studentOnnx(weights: Map<string, Tensor>): Uint8Array {
  const nodes: Field[][] = [];
  const inits: Field[][] = [];
  let x = 'input';
  for (const [i, name] of ['conv1', 'conv2', 'conv3'].entries()) {
    const w = toOihw(weights.get(`${name}.w`)!);
    inits.push(tensorProto(`${name}.w`, w.dims, w.data), tensorProto(`${name}.b`, [w.dims[0]], weights.get(`${name}.b`)!.data));
    nodes.push(node('Conv', [x, `${name}.w`, `${name}.b`], name, [ints('kernel_shape', w.dims.slice(2))]));
    nodes.push(node('Relu', [name], `${name}.relu`));
    nodes.push(node('MaxPool', [`${name}.relu`], `pool${i + 1}`, [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]));
    x = `pool${i + 1}`;
  }
  nodes.push(node('Flatten', [x], 'flat', [int('axis', 1)]));
  x = 'flat';
  for (const name of ['fc1', 'fc2', 'fc3']) {
    const t = weights.get(`${name}.w`)!;
    const data = name === 'fc1' ? reorderRows(t, 5, 4, 64) : t.data;
    inits.push(tensorProto(`${name}.w`, t.shape, data), tensorProto(`${name}.b`, [t.shape[1]], weights.get(`${name}.b`)!.data));
    nodes.push(node('Gemm', [x, `${name}.w`, `${name}.b`], name));
    nodes.push(node('Relu', [name], `${name}.relu`));
    x = `${name}.relu`;
  }
  const graph: Field[] = [
    ...nodes.map((n): Field => [1, n]),
    [2, 'mobileid_student'],
    ...inits.map((t): Field => [5, t]),
    [11, valueInfo('input', ['N', 3, 55, 47])],
    [12, valueInfo(x, ['N', 422])],
  ];
  return encode([[1, 8], [8, [[1, ''], [2, 13]]], [7, graph]]);
}
