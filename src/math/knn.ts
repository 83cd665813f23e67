/**
 * Exact k-nearest-neighbour search (Euclidean), as Barnes-Hut t-SNE needs it.
 *
 * Brute force over all pairs, blocked 4 rows x 4 rows with squared distances formed as
 * |a|^2 + |b|^2 - 2 a.b in Float64. In the ~50 PCA dimensions t-SNE works in, a vantage-point
 * tree barely prunes (measured here on 13k clustered points: 16 s vs 2.5 s for this loop).
 */
import { MobileIdError } from '../errors.js';

/** Bad arguments to the k-NN search (k too large, wrong lengths, non-finite values). */
export class KnnInputError extends MobileIdError {
  override name = 'KnnInputError';
}

export interface NeighbourLists {
  k: number;
  /** count x k neighbour indices, nearest first; a point is never its own neighbour. */
  indices: Int32Array;
  /** count x k squared Euclidean distances matching `indices`. */
  distances2: Float64Array;
}

const TILE = 4;

/**
 * For every row, its k nearest other rows; equal computed distances are ordered by index.
 * `onProgress(fraction)` is called about a hundred times.
 */
export function exactKnn(
  rows: Float32Array,
  count: number,
  dim: number,
  k: number,
  onProgress?: (fraction: number) => void,
): NeighbourLists {
  if (!Number.isInteger(count) || !Number.isInteger(dim) || count < 2 || dim < 1) {
    throw new KnnInputError(`need count >= 2 and dim >= 1, got count=${count} dim=${dim}`);
  }
  if (rows.length !== count * dim) {
    throw new KnnInputError(`rows has ${rows.length} values, expected count*dim = ${count * dim}`);
  }
  if (!Number.isInteger(k) || k < 1 || k > count - 1) {
    throw new KnnInputError(`k must be an integer in [1, count-1 = ${count - 1}], got ${k}`);
  }

  // Centred Float64 copy padded with zero rows to a whole number of tiles; centring keeps the
  // norms small so |a|^2 + |b|^2 - 2 a.b loses little to cancellation.
  const padded = Math.ceil(count / TILE) * TILE;
  const x = new Float64Array(padded * dim);
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dim; d++) {
      const v = rows[i * dim + d];
      if (!Number.isFinite(v)) throw new KnnInputError(`rows[${i * dim + d}] is not finite`);
      mean[d] += v;
    }
  }
  for (let d = 0; d < dim; d++) mean[d] /= count;
  const norm2 = new Float64Array(padded);
  for (let i = 0; i < count; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const v = rows[i * dim + d] - mean[d];
      x[i * dim + d] = v;
      s += v * v;
    }
    norm2[i] = s;
  }

  const heaps = new NeighbourHeaps(count, k);
  const dots = new Float64Array(TILE * TILE);
  const blocks = padded / TILE;
  const reportEvery = Math.max(1, Math.floor(blocks / 100));
  for (let ib = 0; ib < blocks; ib++) {
    const i0 = ib * TILE;
    for (let j0 = i0; j0 < padded; j0 += TILE) {
      dotTile(x, dim, i0, j0, dots);
      for (let a = 0; a < TILE; a++) {
        const i = i0 + a;
        if (i >= count) break;
        for (let b = 0; b < TILE; b++) {
          const j = j0 + b;
          if (j <= i) continue;
          if (j >= count) break;
          const d2 = Math.max(0, norm2[i] + norm2[j] - 2 * dots[a * TILE + b]);
          heaps.offer(i, d2, j);
          heaps.offer(j, d2, i);
        }
      }
    }
    if (onProgress && ((ib + 1) % reportEvery === 0 || ib === blocks - 1)) onProgress((ib + 1) / blocks);
  }
  return heaps.sorted();
}

/** dots[a*4+b] = x[i0+a] . x[j0+b]: a 4x4 register tile (16 accumulators, 8 loads per step). */
function dotTile(x: Float64Array, dim: number, i0: number, j0: number, dots: Float64Array): void {
  const a0o = i0 * dim;
  const a1o = a0o + dim;
  const a2o = a1o + dim;
  const a3o = a2o + dim;
  const b0o = j0 * dim;
  const b1o = b0o + dim;
  const b2o = b1o + dim;
  const b3o = b2o + dim;
  let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
  let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
  for (let d = 0; d < dim; d++) {
    const a0 = x[a0o + d], a1 = x[a1o + d], a2 = x[a2o + d], a3 = x[a3o + d];
    const b0 = x[b0o + d], b1 = x[b1o + d], b2 = x[b2o + d], b3 = x[b3o + d];
    s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
    s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
    s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3;
    s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3;
  }
  dots[0] = s00; dots[1] = s01; dots[2] = s02; dots[3] = s03;
  dots[4] = s10; dots[5] = s11; dots[6] = s12; dots[7] = s13;
  dots[8] = s20; dots[9] = s21; dots[10] = s22; dots[11] = s23;
  dots[12] = s30; dots[13] = s31; dots[14] = s32; dots[15] = s33;
}

/** Whether (d1, i1) orders after (d2, i2): by distance, ties by index. */
function after(d1: number, i1: number, d2: number, i2: number): boolean {
  return d1 > d2 || (d1 === d2 && i1 > i2);
}

/** One bounded max-heap of (distance, index) per row, all in flat typed arrays. */
class NeighbourHeaps {
  private readonly dist: Float64Array;
  private readonly idx: Int32Array;
  private readonly size: Int32Array;
  /** The heap's root distance once full, else Infinity: a cheap first rejection test. */
  private readonly worst: Float64Array;

  constructor(
    private readonly count: number,
    private readonly k: number,
  ) {
    this.dist = new Float64Array(count * k);
    this.idx = new Int32Array(count * k);
    this.size = new Int32Array(count);
    this.worst = new Float64Array(count).fill(Infinity);
  }

  offer(row: number, d: number, i: number): void {
    if (d > this.worst[row]) return;
    const base = row * this.k;
    const size = this.size[row];
    if (size < this.k) {
      let c = size;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (!after(d, i, this.dist[base + parent], this.idx[base + parent])) break;
        this.dist[base + c] = this.dist[base + parent];
        this.idx[base + c] = this.idx[base + parent];
        c = parent;
      }
      this.dist[base + c] = d;
      this.idx[base + c] = i;
      this.size[row] = size + 1;
      if (size + 1 === this.k) this.worst[row] = this.dist[base];
    } else if (after(this.dist[base], this.idx[base], d, i)) {
      this.siftDown(base, d, i, size);
      this.worst[row] = this.dist[base];
    }
  }

  /** Drains every heap, nearest first. */
  sorted(): NeighbourLists {
    const k = this.k;
    const indices = new Int32Array(this.count * k);
    const distances2 = new Float64Array(this.count * k);
    for (let row = 0; row < this.count; row++) {
      const base = row * k;
      for (let last = k - 1; last >= 0; last--) {
        indices[base + last] = this.idx[base];
        distances2[base + last] = this.dist[base];
        this.siftDown(base, this.dist[base + last], this.idx[base + last], last);
      }
    }
    return { k, indices, distances2 };
  }

  /** Puts (d, i) at the root of the heap's first `size` slots and sifts it into place. */
  private siftDown(base: number, d: number, i: number, size: number): void {
    if (size === 0) return;
    let c = 0;
    for (;;) {
      let child = 2 * c + 1;
      if (child >= size) break;
      if (
        child + 1 < size &&
        after(this.dist[base + child + 1], this.idx[base + child + 1], this.dist[base + child], this.idx[base + child])
      ) {
        child++;
      }
      if (!after(this.dist[base + child], this.idx[base + child], d, i)) break;
      this.dist[base + c] = this.dist[base + child];
      this.idx[base + c] = this.idx[base + child];
      c = child;
    }
    this.dist[base + c] = d;
    this.idx[base + c] = i;
  }
}
