/**
 * The prepared-data cache (Node only): for every image of a data set, aligned student crops and
 * the teacher's outputs on the same views, in chunk files written atomically so that the
 * preparation resumes where it stopped. Format (see also README):
 *
 *   <dir>/chunk-NNNNN.json  { keys, views, failures: [{key, reason}], crc, windowScale, mixup, labels }
 *   <dir>/chunk-NNNNN.bin   per key, per view: crop 55*47*3 u8 RGB | hidden 256 f32 LE | desc 128 f32 LE
 *
 * View 0 is the plain alignment, view 1 its mirror, views >= 2 jittered alignments. `crc` is the
 * CRC-32 of the .bin file: a chunk whose binary was damaged after it was written is detected
 * (prepare-data redoes it, readers refuse it). Chunks written before the field existed have none
 * and are checked by size only. `windowScale` is the student window the crops were cut with
 * (STUDENT_WINDOW_SCALE in src/face/align.ts); chunks written before the field existed were cut at
 * scale 1. A cache whose chunks disagree is refused. `mixup` is the probability that a jittered
 * view mixes in another face (src/tools/data/prepare.ts); absent: 0. `labels` says what the teacher
 * was shown: 'chip' (absent), its own 150x150 chip of the photo on the same view; 'crop', the
 * stored student crop upsampled into its chip (src/tools/data/relabel.ts).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from '../../engine/crc32.js';
import { MobileIdError } from '../../errors.js';
import { STUDENT_WINDOW_SCALE } from '../../face/align.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from '../../face/student-graph.js';

export const CROP_BYTES = STUDENT_CROP_HEIGHT * STUDENT_CROP_WIDTH * 3;
export const HIDDEN_SIZE = 256;
export const DESCRIPTOR_SIZE = 128;
export const RECORD_BYTES = CROP_BYTES + 4 * (HIDDEN_SIZE + DESCRIPTOR_SIZE);
/** The window of chunks written before they recorded one. */
const UNRECORDED_WINDOW_SCALE = 1;

/** What the teacher saw when it labelled a view: its chip of the photo, or the student's crop. */
export type TeacherLabels = 'chip' | 'crop';
const TEACHER_LABELS: readonly TeacherLabels[] = ['chip', 'crop'];

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
  /** The student window scale the crops were cut with. */
  windowScale: number;
  /** The probability that a jittered view is a mixup with another face. */
  mixup: number;
  /** What the teacher was shown (see the file's comment). */
  labels: TeacherLabels;
  /** keys.length * views records of RECORD_BYTES. */
  data: Uint8Array;
}

/** The prepared cache is missing, truncated or of another record layout. */
export class PreparedDataError extends MobileIdError {
  override name = 'PreparedDataError';
}

export const chunkName = (index: number) => `chunk-${String(index).padStart(5, '0')}`;

export function chunkExists(dir: string, index: number): boolean {
  return existsSync(path.join(dir, `${chunkName(index)}.json`));
}

/** Removes chunk `index` (both files), so that it is prepared again. */
export function removeChunk(dir: string, index: number): void {
  for (const ext of ['json', 'bin']) rmSync(path.join(dir, `${chunkName(index)}.${ext}`), { force: true });
}

/** Writes one chunk: the binary first, then the JSON (its presence marks the chunk complete). */
export function writeChunk(
  dir: string,
  index: number,
  chunk: { keys: string[]; views: number; failures: Failure[]; records: PreparedRecord[][]; windowScale?: number; mixup?: number; labels?: TeacherLabels },
): void {
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
  writeFileSync(`${base}.json.tmp`, JSON.stringify({
    keys: chunk.keys, views: chunk.views, failures: chunk.failures, crc: crc32(data), windowScale: chunk.windowScale ?? STUDENT_WINDOW_SCALE, mixup: chunk.mixup ?? 0,
    labels: chunk.labels ?? 'chip',
  }));
  renameSync(`${base}.json.tmp`, `${base}.json`);
}

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/**
 * One chunk from the text of its .json and the bytes of its .bin (`name` for messages): the
 * JSON's shape, the binary's size and, when recorded, its CRC-32 are checked; anything else is a
 * PreparedDataError.
 */
export function parseChunk(name: string, json: string, data: Uint8Array): PreparedChunk {
  let meta: unknown;
  try {
    meta = JSON.parse(json);
  } catch {
    throw new PreparedDataError(`${name}: the chunk's JSON is not valid JSON`);
  }
  const { keys, views, failures, crc, windowScale = UNRECORDED_WINDOW_SCALE, mixup = 0, labels = 'chip' } = (meta ?? {}) as Record<string, unknown>;
  const validFailures = Array.isArray(failures) && failures.every((f) => typeof f?.key === 'string' && typeof f?.reason === 'string');
  if (!isStringArray(keys) || !Number.isInteger(views) || (views as number) < 1 || !validFailures) {
    throw new PreparedDataError(`${name}: the chunk's JSON lacks keys (strings), views (a positive integer) or failures ({key, reason})`);
  }
  if (typeof windowScale !== 'number' || !(windowScale > 0) || !Number.isFinite(windowScale)) {
    throw new PreparedDataError(`${name}: windowScale must be a finite number > 0, got ${JSON.stringify(windowScale)}`);
  }
  if (typeof mixup !== 'number' || !(mixup >= 0 && mixup <= 1)) throw new PreparedDataError(`${name}: mixup must be a number in 0..1, got ${JSON.stringify(mixup)}`);
  if (!TEACHER_LABELS.includes(labels as TeacherLabels)) throw new PreparedDataError(`${name}: labels must be ${TEACHER_LABELS.join(' or ')}, got ${JSON.stringify(labels)}`);
  const expected = keys.length * (views as number) * RECORD_BYTES;
  if (data.length !== expected) throw new PreparedDataError(`${name}: binary has ${data.length} bytes, expected ${expected}`);
  if (crc !== undefined && crc !== crc32(data)) throw new PreparedDataError(`${name}: binary checksum mismatch (corrupted)`);
  return { keys, views: views as number, failures: failures as Failure[], windowScale, mixup, labels: labels as TeacherLabels, data };
}

/** Chunk `index` of `dir`, checked (parseChunk); PreparedDataError when missing or damaged. */
export function readChunk(dir: string, index: number): PreparedChunk {
  const base = path.join(dir, chunkName(index));
  let json: string;
  let data: Uint8Array;
  try {
    json = readFileSync(`${base}.json`, 'utf8');
    data = new Uint8Array(readFileSync(`${base}.bin`));
  } catch (cause) {
    throw new PreparedDataError(`${base}: cannot read the chunk: ${(cause as Error).message}`);
  }
  return parseChunk(`${base}.json`, json, data);
}

/** Every complete chunk of a prepared data set, in order; all cut with one student window (else PreparedDataError). */
export function readChunks(dir: string): PreparedChunk[] {
  if (!existsSync(dir)) throw new PreparedDataError(`no prepared data at ${dir}: run npm run prepare-data first`);
  const names = readdirSync(dir).filter((f) => /^chunk-\d{5}\.json$/.test(f)).sort();
  const chunks = names.map((name) => readChunk(dir, Number(name.slice(6, 11))));
  windowScaleOf(chunks, dir);
  return chunks;
}

/** Lists every failure of the complete data set in `dir` in <dir>/failures.json; its images and failures. */
export function writeFailureList(dir: string): { images: number; failures: Failure[] } {
  const chunks = readChunks(dir);
  const failures = chunks.flatMap((c) => c.failures);
  writeFileSync(path.join(dir, 'failures.json'), JSON.stringify(failures, null, 1));
  return { images: chunks.reduce((n, c) => n + c.keys.length, 0), failures };
}

/**
 * The student window scale shared by `chunks` (from one or several caches, `where` for messages);
 * PreparedDataError when they mix windows, since a student sees one field of view.
 * STUDENT_WINDOW_SCALE when there are no chunks.
 */
export function windowScaleOf(chunks: readonly PreparedChunk[], where: string): number {
  const scales = [...new Set(chunks.map((c) => c.windowScale))];
  if (scales.length > 1) throw new PreparedDataError(`${where}: chunks cut with different student windows (scales ${scales.join(', ')}); prepare them again with one --window-scale`);
  return scales[0] ?? STUDENT_WINDOW_SCALE;
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
