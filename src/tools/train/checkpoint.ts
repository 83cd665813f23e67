/**
 * Training checkpoints: master weights, optimiser state and a JSON record of the run, in one
 * file written atomically (temporary file + rename, so a crash mid-write leaves the previous
 * checkpoint intact). The checkpoint before it is kept beside it (`<file>.prev`): when the newest
 * is found damaged (CRC-32), training resumes from the previous one and redoes the epochs since.
 *
 *   "MIDCKPT1" | u32 LE header length | header JSON { meta, arrays: [{name, length}] }
 *   | zero padding to 4 bytes | f32 LE arrays in header order | u32 LE CRC-32 of all before
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { crc32 } from '../../engine/crc32.js';
import { CheckpointError } from './errors.js';
import type { OptimizerState } from './optimizer.js';

const MAGIC = 'MIDCKPT1';

export interface Checkpoint<Meta> {
  meta: Meta;
  weights: Float32Array;
  optimizer: OptimizerState;
}

export function encodeCheckpoint<Meta>(checkpoint: Checkpoint<Meta>): Uint8Array {
  const { optimizer } = checkpoint;
  const arrays: [string, Float32Array][] = [['weights', checkpoint.weights], ['first', optimizer.first], ['second', optimizer.second]];
  const header = new TextEncoder().encode(JSON.stringify({
    meta: checkpoint.meta,
    optimizer: { kind: optimizer.kind, step: optimizer.step },
    arrays: arrays.map(([name, a]) => ({ name, length: a.length })),
  }));
  const dataStart = Math.ceil((12 + header.length) / 4) * 4;
  const total = dataStart + arrays.reduce((sum, [, a]) => sum + a.length * 4, 0) + 4;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, header.length, true);
  bytes.set(header, 12);
  let at = dataStart;
  for (const [, a] of arrays) {
    for (let i = 0; i < a.length; i++) view.setFloat32(at + 4 * i, a[i], true);
    at += a.length * 4;
  }
  view.setUint32(total - 4, crc32(bytes.subarray(0, total - 4)), true);
  return bytes;
}

export function decodeCheckpoint<Meta>(bytes: Uint8Array, source = 'checkpoint'): Checkpoint<Meta> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw new CheckpointError(`${source}: not a mobileid training checkpoint`);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== view.getUint32(bytes.length - 4, true)) {
    throw new CheckpointError(`${source}: checksum mismatch (truncated or corrupted)`);
  }
  const headerLength = view.getUint32(8, true);
  let header: { meta: Meta; optimizer: { kind: OptimizerState['kind']; step: number }; arrays: { name: string; length: number }[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    throw new CheckpointError(`${source}: header is not valid JSON`);
  }
  const validArrays = Array.isArray(header?.arrays) && header.arrays.every((a) => typeof a?.name === 'string' && Number.isInteger(a.length) && a.length >= 0);
  if (!validArrays || !['adam', 'sgd'].includes(header.optimizer?.kind) || !Number.isInteger(header.optimizer.step)) {
    throw new CheckpointError(`${source}: header lacks arrays [{name, length}] or optimizer {kind, step}`);
  }
  const arrays = new Map<string, Float32Array>();
  let at = Math.ceil((12 + headerLength) / 4) * 4;
  for (const { name, length } of header.arrays) {
    if (at + length * 4 > bytes.length - 4) throw new CheckpointError(`${source}: array ${name} runs past the end`);
    const a = new Float32Array(length);
    for (let i = 0; i < length; i++) a[i] = view.getFloat32(at + 4 * i, true);
    arrays.set(name, a);
    at += length * 4;
  }
  const get = (name: string) => {
    const a = arrays.get(name);
    if (!a) throw new CheckpointError(`${source}: array ${name} is missing`);
    return a;
  };
  return {
    meta: header.meta,
    weights: get('weights'),
    optimizer: { kind: header.optimizer.kind, step: header.optimizer.step, first: get('first'), second: get('second') },
  };
}

/** Writes `bytes` to `file` atomically: a temporary file in the same directory, then rename. */
export function writeFileAtomic(file: string, bytes: Uint8Array | string): void {
  const temporary = `${file}.tmp-${process.pid}`;
  writeFileSync(temporary, bytes);
  renameSync(temporary, file);
}

const previousOf = (file: string) => `${file}.prev`;

/** Writes the checkpoint to `file`, keeping the one it replaces as `<file>.prev`. */
export function saveCheckpoint<Meta>(file: string, checkpoint: Checkpoint<Meta>): void {
  const bytes = encodeCheckpoint(checkpoint);
  if (existsSync(file)) renameSync(file, previousOf(file));
  writeFileAtomic(file, bytes);
}

/**
 * The newest intact checkpoint: `file`, else (when it is missing or damaged, e.g. the process
 * was killed between the two renames of saveCheckpoint, or the disk corrupted it) `<file>.prev`;
 * null when neither is usable. Every damaged file is reported through `warn`, never used.
 */
export function loadCheckpoint<Meta>(file: string, warn: (message: string) => void = () => {}): Checkpoint<Meta> | null {
  for (const candidate of [file, previousOf(file)]) {
    if (!existsSync(candidate)) continue;
    try {
      return decodeCheckpoint<Meta>(readFileSync(candidate), candidate);
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      warn(`${error.message}: not used`);
    }
  }
  return null;
}
