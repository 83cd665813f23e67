/**
 * The prepared-data cache (src/tools/data/cache.ts) as a training set: every chunk is one Uint8Array
 * (readChunks) and records are addressed by offset, with no object per record (23,707 images
 * x 4 views is ~880 MB).
 */
import path from 'node:path';
import { CROP_BYTES, DESCRIPTOR_SIZE, HIDDEN_SIZE, PreparedDataError, readChunks, RECORD_BYTES, windowScaleOf, type TeacherLabels } from '../data/cache.js';

/** Which teacher vector of a record. */
export type TeacherLayer = 'hidden' | 'desc';

export class PreparedDataset {
  /** Image keys in dataset order (image index = position). */
  readonly keys: string[];
  readonly views: number;
  /** The student window scale of every crop (src/face/align.ts). */
  readonly windowScale: number;
  /** The largest probability of a mixup view among the chunks (src/tools/data/prepare.ts). */
  readonly mixup: number;
  /** What the teacher was shown when it labelled the views (one for all chunks). */
  readonly labels: TeacherLabels;
  private readonly chunks: Uint8Array[];
  private readonly dataViews: DataView[];
  private readonly chunkOf: Uint32Array;
  private readonly firstByte: Float64Array;

  private constructor(
    keys: string[], views: number, windowScale: number, mixup: number, labels: TeacherLabels, chunks: Uint8Array[], chunkOf: Uint32Array, firstByte: Float64Array,
  ) {
    this.keys = keys;
    this.views = views;
    this.windowScale = windowScale;
    this.mixup = mixup;
    this.labels = labels;
    this.chunks = chunks;
    this.dataViews = chunks.map((c) => new DataView(c.buffer, c.byteOffset, c.byteLength));
    this.chunkOf = chunkOf;
    this.firstByte = firstByte;
  }

  /**
   * Reads every complete chunk of `dir` (a chunk still being written has no .json yet). Several
   * directories (one per data set) form one dataset; their keys get the folder name as a prefix
   * (`utkface/<file>`), and all must have the same number of views, student window and labels.
   */
  static open(dir: string | readonly string[]): PreparedDataset {
    const dirs = typeof dir === 'string' ? [dir] : dir;
    if (dirs.length === 0) throw new PreparedDataError('no prepared data directory given');
    const chunks = dirs.flatMap((d) => {
      const found = readChunks(d);
      if (found.length === 0) throw new PreparedDataError(`no chunks in ${d} yet`);
      const prefix = dirs.length > 1 ? `${path.basename(path.resolve(d))}/` : '';
      return found.map((chunk) => ({ ...chunk, keys: chunk.keys.map((k) => prefix + k), dir: d }));
    });
    const windowScale = windowScaleOf(chunks, dirs.join(', '));
    const views = chunks[0].views;
    const keys: string[] = [];
    const chunkOf: number[] = [];
    const firstByte: number[] = [];
    chunks.forEach((chunk, c) => {
      if (chunk.views !== views) throw new PreparedDataError(`${chunk.dir}: a chunk has ${chunk.views} views, ${chunks[0].dir} ${views}`);
      chunk.keys.forEach((key, i) => {
        keys.push(key);
        chunkOf.push(c);
        firstByte.push(i * views * RECORD_BYTES);
      });
    });
    const mixup = Math.max(...chunks.map((c) => c.mixup));
    const labels = chunks[0].labels;
    const other = chunks.find((c) => c.labels !== labels);
    if (other) throw new PreparedDataError(`${other.dir}: labelled by the teacher on the ${other.labels}, ${chunks[0].dir} on the ${labels}; train on one kind of target`);
    return new PreparedDataset(keys, views, windowScale, mixup, labels, chunks.map((c) => c.data), Uint32Array.from(chunkOf), Float64Array.from(firstByte));
  }

  get size(): number {
    return this.keys.length;
  }

  /** The RGB HWC crop of (image, view): a view into the chunk, not a copy. */
  crop(image: number, view: number): Uint8Array {
    const at = this.recordStart(image, view);
    return this.chunks[this.chunkOf[image]].subarray(at, at + CROP_BYTES);
  }

  /** Copies the teacher vector `layer` of (image, view) into out[at ...]. */
  teacher(layer: TeacherLayer, image: number, view: number, out: Float32Array, at = 0): void {
    const data = this.dataViews[this.chunkOf[image]];
    const start = this.recordStart(image, view) + CROP_BYTES + (layer === 'desc' ? 4 * HIDDEN_SIZE : 0);
    const n = layer === 'desc' ? DESCRIPTOR_SIZE : HIDDEN_SIZE;
    for (let j = 0; j < n; j++) out[at + j] = data.getFloat32(start + 4 * j, true);
  }

  private recordStart(image: number, view: number): number {
    if (!Number.isInteger(image) || image < 0 || image >= this.keys.length) throw new PreparedDataError(`image ${image} out of range 0..${this.keys.length - 1}`);
    if (!Number.isInteger(view) || view < 0 || view >= this.views) throw new PreparedDataError(`view ${view} out of range 0..${this.views - 1}`);
    return this.firstByte[image] + view * RECORD_BYTES;
  }
}

/** 32-bit FNV-1a of a string with a final avalanche, as a fraction in [0, 1). */
function hashFraction(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

/**
 * Held-out split by image key: an image is in validation when hash(seed, key) < fraction, so
 * the split depends neither on chunk order nor on how many images are prepared so far.
 */
export function splitByKey(keys: string[], fraction: number, seed = 1): { train: Int32Array; validation: Int32Array } {
  if (!(fraction >= 0 && fraction < 1)) throw new PreparedDataError(`validation fraction must be in [0, 1), got ${fraction}`);
  const train: number[] = [];
  const validation: number[] = [];
  keys.forEach((key, i) => (hashFraction(`${seed}:${key}`) < fraction ? validation : train).push(i));
  return { train: Int32Array.from(train), validation: Int32Array.from(validation) };
}
