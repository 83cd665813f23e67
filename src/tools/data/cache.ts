/**
 * The prepared-data cache (Node only): for every image of a data set, aligned student crops and
 * the teacher's outputs on the same views, in chunk files written atomically so that the
 * preparation resumes where it stopped. Format (see also README):
 *
 *   <dir>/chunk-NNNNN.json  { keys, views, failures: [{key, reason}], landmarks?: number[][] }
 *   <dir>/chunk-NNNNN.bin   per key, per view: crop 55*47*3 u8 RGB | hidden 256 f32 LE | desc 128 f32 LE
 *
 * View 0 is the plain alignment, view 1 its mirror, views >= 2 jittered alignments.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MobileIdError } from '../../errors.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from '../../face/student-graph.js';

export const CROP_BYTES = STUDENT_CROP_HEIGHT * STUDENT_CROP_WIDTH * 3;
export const HIDDEN_SIZE = 256;
export const DESCRIPTOR_SIZE = 128;
export const RECORD_BYTES = CROP_BYTES + 4 * (HIDDEN_SIZE + DESCRIPTOR_SIZE);

export interface PreparedRecord {
  crop: Uint8Array;
  hidden: Float32Array;
  descriptor: Float32Array;
}

export interface Failure {
  key: string;
  reason: string;
}

export interface PreparedChunk {
  keys: string[];
  views: number;
  failures: Failure[];
  /** keys.length * views records of RECORD_BYTES. */
  data: Uint8Array;
}

/** The prepared cache is missing, truncated or of another record layout. */
export class PreparedDataError extends MobileIdError {
  override name = 'PreparedDataError';
}

const chunkName = (index: number) => `chunk-${String(index).padStart(5, '0')}`;

export function chunkExists(dir: string, index: number): boolean {
  return existsSync(path.join(dir, `${chunkName(index)}.json`));
}

/** Writes one chunk: the binary first, then the JSON (its presence marks the chunk complete). */
export function writeChunk(dir: string, index: number, chunk: { keys: string[]; views: number; failures: Failure[]; records: PreparedRecord[][] }): void {
  mkdirSync(dir, { recursive: true });
  const data = new Uint8Array(chunk.keys.length * chunk.views * RECORD_BYTES);
  const view = new DataView(data.buffer);
  chunk.records.forEach((views, i) => {
    if (views.length !== chunk.views) throw new PreparedDataError(`record ${chunk.keys[i]} has ${views.length} views, expected ${chunk.views}`);
    views.forEach((r, v) => {
      const at = (i * chunk.views + v) * RECORD_BYTES;
      data.set(r.crop, at);
      for (let k = 0; k < HIDDEN_SIZE; k++) view.setFloat32(at + CROP_BYTES + 4 * k, r.hidden[k], true);
      for (let k = 0; k < DESCRIPTOR_SIZE; k++) view.setFloat32(at + CROP_BYTES + 4 * (HIDDEN_SIZE + k), r.descriptor[k], true);
    });
  });
  const base = path.join(dir, chunkName(index));
  writeFileSync(`${base}.bin.tmp`, data);
  renameSync(`${base}.bin.tmp`, `${base}.bin`);
  writeFileSync(`${base}.json.tmp`, JSON.stringify({ keys: chunk.keys, views: chunk.views, failures: chunk.failures }));
  renameSync(`${base}.json.tmp`, `${base}.json`);
}

/** Every complete chunk of a prepared data set, in order. */
export function readChunks(dir: string): PreparedChunk[] {
  if (!existsSync(dir)) throw new PreparedDataError(`no prepared data at ${dir}: run npm run prepare-data first`);
  const names = readdirSync(dir).filter((f) => /^chunk-\d{5}\.json$/.test(f)).sort();
  return names.map((name) => {
    const meta = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as Omit<PreparedChunk, 'data'>;
    const data = new Uint8Array(readFileSync(path.join(dir, name.replace('.json', '.bin'))));
    if (data.length !== meta.keys.length * meta.views * RECORD_BYTES) {
      throw new PreparedDataError(`${name}: binary has ${data.length} bytes, expected ${meta.keys.length * meta.views * RECORD_BYTES}`);
    }
    return { ...meta, data };
  });
}

/** Record `view` of image `index` of a chunk (copies: records are not 4-byte aligned). */
export function readRecord(chunk: PreparedChunk, index: number, view: number): PreparedRecord {
  const at = (index * chunk.views + view) * RECORD_BYTES;
  const floats = new Float32Array(HIDDEN_SIZE + DESCRIPTOR_SIZE);
  new Uint8Array(floats.buffer).set(chunk.data.subarray(at + CROP_BYTES, at + RECORD_BYTES));
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new PreparedDataError('big-endian hosts are not supported');
  return {
    crop: chunk.data.subarray(at, at + CROP_BYTES),
    hidden: floats.subarray(0, HIDDEN_SIZE),
    descriptor: floats.subarray(HIDDEN_SIZE),
  };
}
