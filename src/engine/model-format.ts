/**
 * The single-file model format.
 *
 *   offset 0   "MOBILEID"                  8-byte magic
 *   offset 8   u32 LE format version       (FORMAT_VERSION)
 *   offset 12  u32 LE header byte length   n
 *   offset 16  header: UTF-8 JSON { graph: GraphSpec, tensors: TensorEntry[] }
 *              zero padding to a 16-byte boundary
 *   ...        tensor data, each tensor starting on a 16-byte boundary (offsets relative to
 *              the start of the data section)
 *   last 4     u32 LE CRC-32 of every byte before it
 *
 * Storage dtypes: f32; f16 (IEEE half); q8 (uint8 with per-tensor min and scale:
 * value = min + q * scale, the layout face-api ships its weights in).
 * Everything is expanded to f32 at load: the kernels compute in f32.
 */
import { ModelFormatError } from '../errors.js';
import { crc32 } from './crc32.js';
import type { GraphSpec } from './graph.js';

export const FORMAT_VERSION = 1;
const MAGIC = 'MOBILEID';
const ALIGN = 16;

export type StorageDtype = 'f32' | 'f16' | 'q8';

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

interface TensorEntry {
  name: string;
  shape: number[];
  dtype: StorageDtype;
  offset: number;
  byteLength: number;
  min?: number;
  scale?: number;
}

export interface DecodedModel {
  graph: GraphSpec;
  tensors: Map<string, Tensor>;
}

export interface EncodeOptions {
  /** Storage dtype for every tensor, or a function choosing per tensor. Default f32. */
  dtype?: StorageDtype | ((name: string, tensor: Tensor) => StorageDtype);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** f32 -> IEEE half, round to nearest even; overflow becomes +-Infinity. */
export function toHalf(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function storageBytes(dtype: StorageDtype, count: number): number {
  return dtype === 'f32' ? count * 4 : dtype === 'f16' ? count * 2 : count;
}

const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function encodeModel(graph: GraphSpec, tensors: Map<string, Tensor>, options: EncodeOptions = {}): Uint8Array {
  const entries: TensorEntry[] = [];
  let dataLength = 0;
  for (const [name, tensor] of tensors) {
    const count = elementCount(tensor.shape);
    if (count !== tensor.data.length) {
      throw new ModelFormatError(`tensor "${name}": shape [${tensor.shape}] has ${count} elements, data has ${tensor.data.length}`);
    }
    for (let i = 0; i < count; i++) {
      if (!Number.isFinite(tensor.data[i])) throw new ModelFormatError(`tensor "${name}" contains NaN or Infinity`);
    }
    const choice = options.dtype ?? 'f32';
    const dtype = typeof choice === 'function' ? choice(name, tensor) : choice;
    const entry: TensorEntry = { name, shape: [...tensor.shape], dtype, offset: dataLength, byteLength: storageBytes(dtype, count) };
    if (dtype === 'q8') {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of tensor.data) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      entry.min = lo;
      entry.scale = hi > lo ? (hi - lo) / 255 : 1;
    }
    entries.push(entry);
    dataLength = alignUp(dataLength + entry.byteLength);
  }
  const header = new TextEncoder().encode(JSON.stringify({ graph, tensors: entries }));
  const dataStart = alignUp(16 + header.length);
  const total = dataStart + dataLength + 4;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, header.length, true);
  bytes.set(header, 16);
  for (const entry of entries) {
    const src = tensors.get(entry.name)!.data;
    const at = dataStart + entry.offset;
    if (entry.dtype === 'f32') {
      for (let i = 0; i < src.length; i++) view.setFloat32(at + i * 4, src[i], true);
    } else if (entry.dtype === 'f16') {
      for (let i = 0; i < src.length; i++) view.setUint16(at + i * 2, toHalf(src[i]), true);
    } else {
      for (let i = 0; i < src.length; i++) bytes[at + i] = Math.round((src[i] - entry.min!) / entry.scale!);
    }
  }
  view.setUint32(total - 4, crc32(bytes.subarray(0, total - 4)), true);
  return bytes;
}

export function decodeModel(bytes: Uint8Array): DecodedModel {
  if (!(bytes instanceof Uint8Array)) throw new ModelFormatError('model must be given as a Uint8Array');
  if (bytes.length < 20) throw new ModelFormatError(`model file is truncated (${bytes.length} bytes)`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw new ModelFormatError('not a mobileid model file (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== FORMAT_VERSION) {
    throw new ModelFormatError(`unsupported model format version ${version} (this library reads version ${FORMAT_VERSION})`);
  }
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength + 4 > bytes.length) throw new ModelFormatError('model file is truncated (header runs past the end)');
  const stored = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== stored) {
    throw new ModelFormatError('model file checksum mismatch: the file is truncated or has been modified');
  }
  let header: { graph: GraphSpec; tensors: TensorEntry[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  } catch {
    throw new ModelFormatError('model header is not valid JSON');
  }
  if (!header || typeof header.graph !== 'object' || !Array.isArray(header.tensors)) {
    throw new ModelFormatError('model header lacks graph or tensors');
  }
  const dataStart = alignUp(16 + headerLength);
  const dataEnd = bytes.length - 4;
  const tensors = new Map<string, Tensor>();
  for (const entry of header.tensors) {
    const count = Array.isArray(entry.shape) ? elementCount(entry.shape) : NaN;
    if (!Number.isInteger(count) || count < 0) throw new ModelFormatError(`tensor "${entry.name}" has an invalid shape`);
    if (!['f32', 'f16', 'q8'].includes(entry.dtype)) throw new ModelFormatError(`tensor "${entry.name}" has unknown dtype ${entry.dtype}`);
    const at = dataStart + entry.offset;
    if (entry.byteLength !== storageBytes(entry.dtype, count) || at < dataStart || at + entry.byteLength > dataEnd) {
      throw new ModelFormatError(`tensor "${entry.name}" lies outside the data section`);
    }
    const data = new Float32Array(count);
    if (entry.dtype === 'f32') {
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(at + i * 4, true);
    } else if (entry.dtype === 'f16') {
      for (let i = 0; i < count; i++) data[i] = fromHalf(view.getUint16(at + i * 2, true));
    } else {
      const min = entry.min ?? NaN;
      const scale = entry.scale ?? NaN;
      if (!Number.isFinite(min) || !Number.isFinite(scale)) throw new ModelFormatError(`q8 tensor "${entry.name}" lacks min/scale`);
      for (let i = 0; i < count; i++) data[i] = min + bytes[at + i] * scale;
    }
    tensors.set(entry.name, { shape: entry.shape, data });
  }
  return { graph: header.graph, tensors };
}

/**
 * What a model computes, as 8 hex digits: CRC-32 of its graph (layers, input, outputs,
 * preprocessing; not `meta`, which holds notes and the verification rule) and its weights as
 * expanded at load. Two files with the same fingerprint give the same outputs; refitting a
 * model's threshold keeps it, retraining changes it. Embeddings are only comparable between
 * models of one fingerprint.
 */
export function modelFingerprint({ graph, tensors }: DecodedModel): string {
  const { meta: _notes, ...computation } = graph;
  const header = new TextEncoder().encode(JSON.stringify(computation));
  let weights = 0;
  for (const tensor of tensors.values()) weights += tensor.data.length * 4;
  const bytes = new Uint8Array(header.length + weights);
  bytes.set(header);
  let at = header.length;
  for (const [, tensor] of [...tensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    bytes.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), at);
    at += tensor.data.byteLength;
  }
  return crc32(bytes).toString(16).padStart(8, '0');
}
