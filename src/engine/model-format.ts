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
 * value = min + q * scale, the layout face-api ships its weights in); i8 (version 2: int8 codes
 * followed by one f32 LE scale per channel of the last axis, value = code * scale[channel]; the
 * weights of a quantised model, see quantization.ts); i4 (version 3: 4-bit codes -8..7, two per
 * byte, element 2k in the low nibble of byte k and 2k+1 in the high one, then one f32 LE scale per
 * channel as for i8; dense weights that tolerate 4 bits).
 * Every tensor is also expanded to f32 at load; an i8 or i4 tensor keeps its codes for the integer
 * kernels. A file is written with the lowest version that holds it: 3 with i4 tensors, 2 with i8
 * tensors or graph.quantization, 1 otherwise, so older readers take every file they can read.
 */
import { ModelFormatError } from '../errors.js';
import { crc32 } from './crc32.js';
import type { GraphSpec } from './graph.js';

/** The newest format version this library reads and writes. */
export const FORMAT_VERSION = 3;
const MAGIC = 'MOBILEID';
const ALIGN = 16;

export type StorageDtype = 'f32' | 'f16' | 'q8' | 'i8' | 'i4';
const DTYPES: readonly StorageDtype[] = ['f32', 'f16', 'q8', 'i8', 'i4'];
/** The first format version that has each storage dtype. */
const DTYPE_VERSION: Record<StorageDtype, number> = { f32: 1, f16: 1, q8: 1, i8: 2, i4: 3 };

/** Symmetric integer codes with one scale per channel of the tensor's last axis. */
export interface QuantizedValues {
  /** 8: codes -127..127, stored as i8; 4: codes -8..7, stored as i4. */
  bits: 8 | 4;
  codes: Int8Array;
  scales: Float32Array;
}

export interface Tensor {
  shape: number[];
  /** The values (for an i8 tensor: codes * scales, what the codes stand for). */
  data: Float32Array;
  /** Present on i8 and i4 tensors; such a tensor is always stored with its codes. */
  quantized?: QuantizedValues;
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

function storageBytes(dtype: StorageDtype, shape: number[]): number {
  const count = elementCount(shape);
  if (dtype === 'i8') return count + 4 * channelsOf(shape);
  if (dtype === 'i4') return Math.ceil(count / 2) + 4 * channelsOf(shape);
  return dtype === 'f32' ? count * 4 : dtype === 'f16' ? count * 2 : count;
}

/** Channels of an i8 / i4 tensor's scales: its last axis (1 for a scalar). */
const channelsOf = (shape: number[]) => (shape.length ? shape[shape.length - 1] : 1);

const alignUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkQuantized(name: string, tensor: Tensor): void {
  const q = tensor.quantized;
  if (!q || q.codes.length !== tensor.data.length || q.scales.length !== channelsOf(tensor.shape) || !q.scales.every((s) => s > 0 && Number.isFinite(s))) {
    throw new ModelFormatError(`tensor "${name}": i8 / i4 storage needs a code for every element and a positive scale per channel of the last axis`);
  }
  if (q.bits === 4 && !q.codes.every((c) => c >= -8 && c <= 7)) throw new ModelFormatError(`tensor "${name}": a 4-bit code lies outside -8..7`);
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
    const quantizedDtype = tensor.quantized?.bits === 4 ? 'i4' : 'i8';
    const dtype = tensor.quantized ? quantizedDtype : typeof choice === 'function' ? choice(name, tensor) : choice;
    if (dtype === 'i8' || dtype === 'i4') checkQuantized(name, tensor);
    const entry: TensorEntry = { name, shape: [...tensor.shape], dtype, offset: dataLength, byteLength: storageBytes(dtype, tensor.shape) };
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
  const version = Math.max(graph.quantization ? 2 : 1, ...entries.map((e) => DTYPE_VERSION[e.dtype]));
  view.setUint32(8, version, true);
  view.setUint32(12, header.length, true);
  bytes.set(header, 16);
  for (const entry of entries) {
    const src = tensors.get(entry.name)!.data;
    const at = dataStart + entry.offset;
    if (entry.dtype === 'f32') {
      for (let i = 0; i < src.length; i++) view.setFloat32(at + i * 4, src[i], true);
    } else if (entry.dtype === 'f16') {
      for (let i = 0; i < src.length; i++) view.setUint16(at + i * 2, toHalf(src[i]), true);
    } else if (entry.dtype === 'q8') {
      for (let i = 0; i < src.length; i++) bytes[at + i] = Math.round((src[i] - entry.min!) / entry.scale!);
    } else {
      const { codes, scales } = tensors.get(entry.name)!.quantized!;
      let scalesAt = at + codes.length;
      if (entry.dtype === 'i4') {
        for (let i = 0; i < codes.length; i += 2) bytes[at + (i >> 1)] = (codes[i] & 15) | ((codes[i + 1] ?? 0) & 15) << 4;
        scalesAt = at + Math.ceil(codes.length / 2);
      } else {
        bytes.set(new Uint8Array(codes.buffer, codes.byteOffset, codes.length), at);
      }
      scales.forEach((s, c) => view.setFloat32(scalesAt + 4 * c, s, true));
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
  if (version < 1 || version > FORMAT_VERSION) {
    throw new ModelFormatError(`unsupported model format version ${version} (this library reads versions 1 to ${FORMAT_VERSION})`);
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
  if (!header || typeof header.graph !== 'object' || header.graph === null || !Array.isArray(header.tensors)) {
    throw new ModelFormatError('model header lacks graph or tensors');
  }
  const dataStart = alignUp(16 + headerLength);
  const dataEnd = bytes.length - 4;
  const tensors = new Map<string, Tensor>();
  for (const entry of header.tensors) {
    if (typeof entry !== 'object' || entry === null || typeof entry.name !== 'string') throw new ModelFormatError('model header has a tensor entry without a name');
    const count = Array.isArray(entry.shape) ? elementCount(entry.shape) : NaN;
    if (!Number.isInteger(count) || count < 0) throw new ModelFormatError(`tensor "${entry.name}" has an invalid shape`);
    if (!DTYPES.includes(entry.dtype) || DTYPE_VERSION[entry.dtype] > version) {
      throw new ModelFormatError(`tensor "${entry.name}" has unknown dtype ${entry.dtype}`);
    }
    const at = dataStart + entry.offset;
    if (entry.byteLength !== storageBytes(entry.dtype, entry.shape) || at < dataStart || at + entry.byteLength > dataEnd) {
      throw new ModelFormatError(`tensor "${entry.name}" lies outside the data section`);
    }
    const data = new Float32Array(count);
    if (entry.dtype === 'f32') {
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(at + i * 4, true);
    } else if (entry.dtype === 'f16') {
      for (let i = 0; i < count; i++) data[i] = fromHalf(view.getUint16(at + i * 2, true));
    } else if (entry.dtype === 'i8' || entry.dtype === 'i4') {
      const bits = entry.dtype === 'i4' ? 4 : 8;
      const codes = bits === 8
        ? new Int8Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + at + count))
        // the nibble moved to the top of an i32, then back with its sign
        : Int8Array.from({ length: count }, (_, i) => (bytes[at + (i >> 1)] << (i & 1 ? 24 : 28)) >> 28);
      const scalesAt = at + (bits === 8 ? count : Math.ceil(count / 2));
      const scales = Float32Array.from({ length: channelsOf(entry.shape) }, (_, c) => view.getFloat32(scalesAt + 4 * c, true));
      if (!scales.every((s) => Number.isFinite(s) && s > 0)) throw new ModelFormatError(`${entry.dtype} tensor "${entry.name}" has a scale that is not a positive number`);
      for (let i = 0; i < count; i++) data[i] = codes[i] * scales[i % scales.length];
      tensors.set(entry.name, { shape: entry.shape, data, quantized: { bits, codes, scales } });
      continue;
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
 * The model file with graph.meta replaced by `meta`; every tensor's stored bytes are kept as
 * they are (no re-quantisation), only the header and the checksum change.
 */
export function withGraphMeta(bytes: Uint8Array, meta: Record<string, unknown>): Uint8Array {
  decodeModel(bytes); // a damaged file is refused here, not rewritten with a fresh checksum
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const oldHeaderLength = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + oldHeaderLength))) as { graph: GraphSpec; tensors: TensorEntry[] };
  const newHeader = new TextEncoder().encode(JSON.stringify({ graph: { ...header.graph, meta }, tensors: header.tensors }));
  const data = bytes.subarray(alignUp(16 + oldHeaderLength), bytes.length - 4);
  const dataStart = alignUp(16 + newHeader.length);
  const total = dataStart + data.length + 4;
  const out = new Uint8Array(total);
  const outView = new DataView(out.buffer);
  out.set(bytes.subarray(0, 12), 0);
  outView.setUint32(12, newHeader.length, true);
  out.set(newHeader, 16);
  out.set(data, dataStart);
  outView.setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
  return out;
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
