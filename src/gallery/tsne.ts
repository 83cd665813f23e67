/**
 * Barnes-Hut t-SNE (van der Maaten, "Accelerating t-SNE using tree-based algorithms", JMLR 2014):
 * input affinities from the exact 3*perplexity nearest neighbours, a quadtree approximating the
 * repulsive forces, and bhtsne's optimiser (early exaggeration, momentum, gains).
 */
import { MobileIdError } from '../errors.js';
import { exactKnn, type NeighbourLists } from '../math/knn.js';
import { fitPca } from '../math/pca.js';
import { seededRandom } from '../math/random.js';

/** Bad t-SNE input: wrong sizes, NaN/Infinity, too few points or a perplexity too large. */
export class TsneInputError extends MobileIdError {
  override name = 'TsneInputError';
}

export type TsneStage = 'pca' | 'neighbours' | 'affinities' | 'optimise';

export interface TsneOptions {
  /** Effective number of neighbours, 1 <= perplexity <= maxPerplexity(count). Default 30. */
  perplexity?: number;
  /** Barnes-Hut accuracy in [0, 1]: 0 is exact (slow), default 0.5. */
  theta?: number;
  /** Gradient-descent iterations, default 1000. */
  iterations?: number;
  /**
   * Step size, default 200. As in bhtsne and openTSNE it multiplies the gradient without its
   * constant factor 4 (so 200 here is scikit-learn's 50). 'auto': max(count / exaggeration, 50).
   */
  learningRate?: number | 'auto';
  /** Factor on P during the first `exaggerationIterations` iterations, default 12. */
  earlyExaggeration?: number;
  /** Length of the exaggeration phase, default 250; momentum goes 0.5 -> 0.8 at its end. */
  exaggerationIterations?: number;
  /** Inputs with more dimensions are first reduced by PCA to this many, default 50. */
  pcaDimensions?: number;
  /** Seed of the initial layout; the same seed gives identical output. Default 1. */
  seed?: number;
  onProgress?: (stage: TsneStage, fraction: number) => void;
}

/** Symmetric joint probabilities P in compressed sparse rows; all values sum to 1. */
export interface SparseAffinities {
  count: number;
  /** count + 1 offsets into columns/values. */
  rowStart: Int32Array;
  columns: Int32Array;
  values: Float64Array;
}

const MIN_GAIN = 0.01;
const INITIAL_MOMENTUM = 0.5;
const FINAL_MOMENTUM = 0.8;
/** Standard deviation of the random initial layout, as in bhtsne. */
const INITIAL_SPREAD = 1e-4;

/** Embed `count` rows of `dim` values into 2-D; returns count x 2 coordinates. */
export function tsne(rows: Float32Array, count: number, dim: number, opts: TsneOptions = {}): Float32Array {
  const perplexity = opts.perplexity ?? 30;
  const theta = opts.theta ?? 0.5;
  const iterations = opts.iterations ?? 1000;
  const exaggeration = opts.earlyExaggeration ?? 12;
  const exaggerationIterations = opts.exaggerationIterations ?? 250;
  const pcaDimensions = opts.pcaDimensions ?? 50;
  const seed = opts.seed ?? 1;
  const progress = opts.onProgress ?? (() => {});

  checkShape(rows, count, dim);
  checkPerplexity(perplexity, count);
  if (!(theta >= 0 && theta <= 1)) throw new TsneInputError(`theta must be in [0, 1], got ${theta}`);
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new TsneInputError(`iterations must be a positive integer, got ${iterations}`);
  }
  if (!(exaggeration >= 1)) throw new TsneInputError(`earlyExaggeration must be >= 1, got ${exaggeration}`);
  if (!Number.isInteger(exaggerationIterations) || exaggerationIterations < 0) {
    throw new TsneInputError(`exaggerationIterations must be a non-negative integer, got ${exaggerationIterations}`);
  }
  if (!Number.isInteger(pcaDimensions) || pcaDimensions < 1) {
    throw new TsneInputError(`pcaDimensions must be a positive integer, got ${pcaDimensions}`);
  }
  if (!Number.isInteger(seed)) throw new TsneInputError(`seed must be an integer, got ${seed}`);
  const learningRate = opts.learningRate === 'auto' ? Math.max(count / exaggeration, 50) : (opts.learningRate ?? 200);
  if (!(learningRate > 0 && Number.isFinite(learningRate))) {
    throw new TsneInputError(`learningRate must be a positive number or 'auto', got ${opts.learningRate}`);
  }

  let data = rows;
  let dataDim = dim;
  if (dim > pcaDimensions) {
    progress('pca', 0);
    data = fitPca(rows, count, dim, pcaDimensions).projectMany(rows, count);
    dataDim = pcaDimensions;
    progress('pca', 1);
  }

  progress('neighbours', 0);
  // fewer than 3 x perplexity neighbours only below 4 points, where maxPerplexity is 1
  const k = Math.min(Math.floor(3 * perplexity), count - 1);
  const neighbours = exactKnn(data, count, dataDim, k, (f) => progress('neighbours', f));
  progress('affinities', 0);
  const P = jointProbabilities(neighbours, count, perplexity);
  progress('affinities', 1);

  const y = randomLayout(count, seed);
  const gradient = new Float64Array(2 * count);
  const update = new Float64Array(2 * count);
  const gains = new Float64Array(2 * count).fill(1);
  const workspace = new BarnesHutWorkspace(count);
  // Our gradients carry KL's factor 4; the learning rate is defined without it (see options).
  const step = learningRate / 4;
  const reportEvery = Math.max(1, Math.floor(iterations / 100));
  progress('optimise', 0);
  for (let iter = 0; iter < iterations; iter++) {
    const lying = iter < exaggerationIterations;
    workspace.gradient(P, y, theta, lying ? exaggeration : 1, gradient);
    const momentum = lying ? INITIAL_MOMENTUM : FINAL_MOMENTUM;
    for (let i = 0; i < 2 * count; i++) {
      // Delta-bar-delta: grow the gain while steps keep going the same way (against the gradient).
      const g = gradient[i] * update[i] < 0 ? gains[i] + 0.2 : gains[i] * 0.8;
      gains[i] = g < MIN_GAIN ? MIN_GAIN : g;
      update[i] = momentum * update[i] - step * gains[i] * gradient[i];
      y[i] += update[i];
    }
    centre(y, count);
    if ((iter + 1) % reportEvery === 0 || iter === iterations - 1) progress('optimise', (iter + 1) / iterations);
  }
  return Float32Array.from(y);
}

function checkShape(rows: Float32Array, count: number, dim: number): void {
  if (!Number.isInteger(count) || count < 2) throw new TsneInputError(`need at least 2 points, got count=${count}`);
  if (!Number.isInteger(dim) || dim < 1) throw new TsneInputError(`dim must be a positive integer, got ${dim}`);
  if (rows.length !== count * dim) {
    throw new TsneInputError(`rows has ${rows.length} values, expected count*dim = ${count * dim}`);
  }
  for (let i = 0; i < rows.length; i++) {
    if (!Number.isFinite(rows[i])) {
      throw new TsneInputError(`point ${Math.floor(i / dim)} has a non-finite value (${rows[i]})`);
    }
  }
}

/**
 * The largest perplexity `count` points allow: each point's affinities come from its
 * 3 x perplexity nearest neighbours, and there are count - 1 of them. Never below 1 (a point's
 * single nearest neighbour), so that 2 points or more can always be embedded.
 */
export function maxPerplexity(count: number): number {
  return Math.max(1, (count - 1) / 3);
}

function checkPerplexity(perplexity: number, count: number): void {
  if (!(perplexity >= 1 && Number.isFinite(perplexity))) {
    throw new TsneInputError(`perplexity must be a number >= 1, got ${perplexity}`);
  }
  if (perplexity > maxPerplexity(count)) {
    throw new TsneInputError(
      `perplexity ${perplexity} is too large for ${count} points (at most maxPerplexity(count) = ${maxPerplexity(count).toFixed(2)})`,
    );
  }
}

/**
 * Per row of `distances2` (count x k squared distances), the Gaussian conditional
 * probabilities p(j|i) whose entropy is log(perplexity), found by bisection on the precision.
 */
export function conditionalProbabilities(
  distances2: Float64Array,
  count: number,
  k: number,
  perplexity: number,
): Float64Array {
  if (distances2.length !== count * k) {
    throw new TsneInputError(`distances2 has ${distances2.length} values, expected count*k = ${count * k}`);
  }
  if (!(perplexity >= 1) || perplexity > k) {
    throw new TsneInputError(`perplexity must be in [1, k = ${k}], got ${perplexity}`);
  }
  const target = Math.log(perplexity);
  const p = new Float64Array(count * k);
  for (let i = 0; i < count; i++) {
    const base = i * k;
    // Distances relative to the nearest: the normalised p is unchanged and exp cannot underflow
    // to an all-zero row.
    let nearest = Infinity;
    let mean = 0;
    for (let j = 0; j < k; j++) nearest = Math.min(nearest, distances2[base + j]);
    for (let j = 0; j < k; j++) mean += distances2[base + j] - nearest;
    mean /= k;
    let beta = mean > 0 ? 1 / mean : 1;
    let lo = 0;
    let hi = Infinity;
    for (let step = 0; step < 200; step++) {
      let sum = 0;
      let weighted = 0;
      for (let j = 0; j < k; j++) {
        const d = distances2[base + j] - nearest;
        const v = Math.exp(-beta * d);
        p[base + j] = v;
        sum += v;
        weighted += d * v;
      }
      const entropy = Math.log(sum) + (beta * weighted) / sum;
      for (let j = 0; j < k; j++) p[base + j] /= sum;
      const gap = entropy - target;
      if (Math.abs(gap) < 1e-5) break;
      if (gap > 0) {
        lo = beta; // too flat: sharpen
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = (beta + lo) / 2;
      }
    }
  }
  return p;
}

/** P = (p(j|i) + p(i|j)) / 2N over the union of the neighbour lists. */
export function jointProbabilities(neighbours: NeighbourLists, count: number, perplexity: number): SparseAffinities {
  const { k, indices } = neighbours;
  const conditional = conditionalProbabilities(neighbours.distances2, count, k, perplexity);

  // Row i receives its own k entries plus one per point that lists i as a neighbour.
  const bound = new Int32Array(count + 1);
  for (let i = 0; i < count; i++) bound[i + 1] += k;
  for (let e = 0; e < count * k; e++) bound[indices[e] + 1]++;
  for (let i = 0; i < count; i++) bound[i + 1] += bound[i];
  const rawColumns = new Int32Array(bound[count]);
  const rawValues = new Float64Array(bound[count]);
  const cursor = bound.slice(0, count);
  for (let i = 0; i < count; i++) {
    for (let e = i * k; e < (i + 1) * k; e++) {
      const j = indices[e];
      const v = conditional[e];
      rawColumns[cursor[i]] = j;
      rawValues[cursor[i]++] = v;
      rawColumns[cursor[j]] = i;
      rawValues[cursor[j]++] = v;
    }
  }

  // Merge the duplicate (i, j) entries of mutual neighbours.
  const rowStart = new Int32Array(count + 1);
  const columns = new Int32Array(bound[count]);
  const values = new Float64Array(bound[count]);
  const slot = new Int32Array(count).fill(-1);
  let out = 0;
  let total = 0;
  for (let i = 0; i < count; i++) {
    rowStart[i] = out;
    for (let e = bound[i]; e < bound[i + 1]; e++) {
      const j = rawColumns[e];
      if (slot[j] < 0) {
        slot[j] = out;
        columns[out] = j;
        values[out++] = rawValues[e];
      } else {
        values[slot[j]] += rawValues[e];
      }
      total += rawValues[e];
    }
    for (let e = rowStart[i]; e < out; e++) slot[columns[e]] = -1;
  }
  rowStart[count] = out;
  for (let e = 0; e < out; e++) values[e] /= total;
  return { count, rowStart, columns: columns.slice(0, out), values: values.slice(0, out) };
}

/**
 * The exact gradient of KL(P || Q) with respect to the layout y (count x 2), with P scaled by
 * `exaggeration`; O(count^2), for checking the Barnes-Hut gradient on small sets.
 */
export function exactGradient(P: SparseAffinities, y: Float64Array, exaggeration = 1): Float64Array {
  const count = checkLayout(P, y);
  const gradient = new Float64Array(2 * count);
  let z = 0;
  for (let i = 0; i < count; i++) {
    let rx = 0;
    let ry = 0;
    for (let j = 0; j < count; j++) {
      if (j === i) continue;
      const dx = y[2 * i] - y[2 * j];
      const dy = y[2 * i + 1] - y[2 * j + 1];
      const q = 1 / (1 + dx * dx + dy * dy);
      z += q;
      rx += q * q * dx;
      ry += q * q * dy;
    }
    gradient[2 * i] = rx;
    gradient[2 * i + 1] = ry;
  }
  combineForces(P, y, exaggeration, z, gradient);
  return gradient;
}

/** The Barnes-Hut approximation of `exactGradient`; theta = 0 is exact. */
export function barnesHutGradient(P: SparseAffinities, y: Float64Array, theta: number, exaggeration = 1): Float64Array {
  const count = checkLayout(P, y);
  if (!(theta >= 0 && theta <= 1)) throw new TsneInputError(`theta must be in [0, 1], got ${theta}`);
  const gradient = new Float64Array(2 * count);
  new BarnesHutWorkspace(count).gradient(P, y, theta, exaggeration, gradient);
  return gradient;
}

function checkLayout(P: SparseAffinities, y: Float64Array): number {
  if (y.length !== 2 * P.count) throw new TsneInputError(`layout has ${y.length} values, expected ${2 * P.count}`);
  return P.count;
}

/**
 * Turns the repulsion sums r_i = sum_j q_ij^2 (y_i - y_j) held in `gradient` (q_ij unnormalised)
 * into the gradient 4 (exaggeration * sum_j p_ij q_ij (y_i - y_j) - r_i / z).
 */
function combineForces(P: SparseAffinities, y: Float64Array, exaggeration: number, z: number, gradient: Float64Array): void {
  const { count, rowStart, columns, values } = P;
  const repulsionScale = 1 / z;
  for (let i = 0; i < count; i++) {
    const xi = y[2 * i];
    const yi = y[2 * i + 1];
    let ax = 0;
    let ay = 0;
    for (let e = rowStart[i]; e < rowStart[i + 1]; e++) {
      const j = columns[e];
      const dx = xi - y[2 * j];
      const dy = yi - y[2 * j + 1];
      const pq = values[e] / (1 + dx * dx + dy * dy);
      ax += pq * dx;
      ay += pq * dy;
    }
    gradient[2 * i] = 4 * (exaggeration * ax - repulsionScale * gradient[2 * i]);
    gradient[2 * i + 1] = 4 * (exaggeration * ay - repulsionScale * gradient[2 * i + 1]);
  }
}

/** Leaves hold at most this many points (more only where points coincide, at MAX_DEPTH). */
const LEAF_SIZE = 4;
const MAX_DEPTH = 48;
/** Per-node record layouts: Float64 [centre of mass x, y, squared cell side, points]. */
const NODE_F = 4;
/** Int32 [first child, number of children (0: leaf), start, end of its range of `order`]. */
const NODE_I = 4;

/**
 * A quadtree rebuilt every iteration, stored as two typed arrays of fixed-size node records;
 * each node owns the contiguous range [start, end) of `order`, and its children are
 * contiguous records.
 */
class BarnesHutWorkspace {
  private readonly order: Int32Array;
  /** The layout permuted into tree order, so a leaf's points are contiguous in memory. */
  private readonly treeY: Float64Array;
  private readonly stack = new Int32Array(4 * MAX_DEPTH + 8);
  private nodeF = new Float64Array(0);
  private nodeI = new Int32Array(0);
  private nodeCount = 0;

  constructor(private readonly count: number) {
    this.order = new Int32Array(count);
    for (let i = 0; i < count; i++) this.order[i] = i;
    this.treeY = new Float64Array(2 * count);
    this.reserve(2 * count + 16);
  }

  /** Writes the gradient (see exactGradient) into `gradient`. */
  gradient(P: SparseAffinities, y: Float64Array, theta: number, exaggeration: number, gradient: Float64Array): void {
    this.build(y);
    const z = this.repulsion(theta * theta, gradient);
    combineForces(P, y, exaggeration, z, gradient);
  }

  private reserve(nodes: number): void {
    if (nodes * NODE_F <= this.nodeF.length) return;
    const capacity = Math.max(nodes, 2 * (this.nodeF.length / NODE_F));
    const f = new Float64Array(capacity * NODE_F);
    f.set(this.nodeF);
    const i = new Int32Array(capacity * NODE_I);
    i.set(this.nodeI);
    this.nodeF = f;
    this.nodeI = i;
  }

  private build(y: Float64Array): void {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < this.count; i++) {
      minX = Math.min(minX, y[2 * i]);
      maxX = Math.max(maxX, y[2 * i]);
      minY = Math.min(minY, y[2 * i + 1]);
      maxY = Math.max(maxY, y[2 * i + 1]);
    }
    // Slightly larger than the bounding box so the maximum falls strictly inside.
    const half = Math.max(maxX - minX, maxY - minY, 1e-12) * 0.5 * (1 + 1e-9);
    this.nodeCount = 1;
    this.buildNode(y, 0, 0, this.count, (minX + maxX) / 2, (minY + maxY) / 2, half, 0);
    const { order, treeY } = this;
    for (let t = 0; t < this.count; t++) {
      treeY[2 * t] = y[2 * order[t]];
      treeY[2 * t + 1] = y[2 * order[t] + 1];
    }
  }

  private buildNode(y: Float64Array, node: number, start: number, end: number, cx: number, cy: number, half: number, depth: number): void {
    const order = this.order;
    let sx = 0;
    let sy = 0;
    for (let t = start; t < end; t++) {
      sx += y[2 * order[t]];
      sy += y[2 * order[t] + 1];
    }
    const n = end - start;
    const f = node * NODE_F;
    const i = node * NODE_I;
    this.nodeF[f] = sx / n;
    this.nodeF[f + 1] = sy / n;
    this.nodeF[f + 2] = 4 * half * half;
    this.nodeF[f + 3] = n;
    this.nodeI[i] = -1;
    this.nodeI[i + 1] = 0;
    this.nodeI[i + 2] = start;
    this.nodeI[i + 3] = end;
    if (n <= LEAF_SIZE || depth >= MAX_DEPTH) return;

    // Partition into quadrants: first by y (below / above cy), then each half by x.
    const midY = partition(order, y, 1, cy, start, end);
    const bounds = [start, partition(order, y, 0, cx, start, midY), midY, partition(order, y, 0, cx, midY, end), end];
    let children = 0;
    for (let q = 0; q < 4; q++) if (bounds[q + 1] > bounds[q]) children++;
    this.reserve(this.nodeCount + children);
    const first = this.nodeCount;
    this.nodeCount += children;
    this.nodeI[i] = first;
    this.nodeI[i + 1] = children;
    const h = half / 2;
    let child = first;
    for (let q = 0; q < 4; q++) {
      if (bounds[q + 1] === bounds[q]) continue;
      this.buildNode(y, child++, bounds[q], bounds[q + 1], q & 1 ? cx + h : cx - h, q & 2 ? cy + h : cy - h, h, depth + 1);
    }
  }

  /**
   * Writes r_i = sum_j q_ij^2 (y_i - y_j) into `out` and returns z = sum_{i != j} q_ij, a node
   * standing for all its points once its squared width < theta2 * squared distance.
   */
  private repulsion(theta2: number, out: Float64Array): number {
    const { order, treeY, stack, nodeF, nodeI } = this;
    let z = 0;
    // Points in tree order: consecutive points walk nearly the same nodes (cache-friendly).
    for (let t = 0; t < this.count; t++) {
      const xi = treeY[2 * t];
      const yi = treeY[2 * t + 1];
      let fx = 0;
      let fy = 0;
      let zi = 0;
      let top = 0;
      stack[top++] = 0;
      while (top > 0) {
        const node = stack[--top];
        const f = node * NODE_F;
        const dx = xi - nodeF[f];
        const dy = yi - nodeF[f + 1];
        const d2 = dx * dx + dy * dy;
        const k = node * NODE_I;
        // A cell holding this point is never far enough when theta^2 <= 1/2 (the point and the
        // centre of mass are within a diagonal); above that, test it, lest the point repel itself.
        if (nodeF[f + 2] < theta2 * d2 && (theta2 <= 0.5 || t < nodeI[k + 2] || t >= nodeI[k + 3])) {
          // Far enough: the node's points act as one at their centre of mass.
          const q = 1 / (1 + d2);
          const nq = nodeF[f + 3] * q;
          zi += nq;
          fx += nq * q * dx;
          fy += nq * q * dy;
          continue;
        }
        const first = nodeI[k];
        if (first >= 0) {
          for (let c = first + nodeI[k + 1] - 1; c >= first; c--) stack[top++] = c;
          continue;
        }
        // A leaf too close to summarise: its points one by one, except this point itself.
        for (let s = nodeI[k + 2]; s < nodeI[k + 3]; s++) {
          if (s === t) continue;
          const ex = xi - treeY[2 * s];
          const ey = yi - treeY[2 * s + 1];
          const q = 1 / (1 + ex * ex + ey * ey);
          zi += q;
          fx += q * q * ex;
          fy += q * q * ey;
        }
      }
      out[2 * order[t]] = fx;
      out[2 * order[t] + 1] = fy;
      z += zi;
    }
    return z;
  }
}

/** Reorders order[start, end) so points with coordinate `axis` below `pivot` come first. */
function partition(order: Int32Array, y: Float64Array, axis: number, pivot: number, start: number, end: number): number {
  let lo = start;
  let hi = end - 1;
  while (lo <= hi) {
    if (y[2 * order[lo] + axis] < pivot) {
      lo++;
    } else {
      const t = order[lo];
      order[lo] = order[hi];
      order[hi--] = t;
    }
  }
  return lo;
}

/** Gaussian initial layout: Box-Muller gives both coordinates of a point from one pair of draws. */
function randomLayout(count: number, seed: number): Float64Array {
  const uniform = seededRandom(seed);
  const y = new Float64Array(2 * count);
  for (let i = 0; i < 2 * count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform())) * INITIAL_SPREAD;
    const a = 2 * Math.PI * uniform();
    y[i] = r * Math.cos(a);
    y[i + 1] = r * Math.sin(a);
  }
  return y;
}

function centre(y: Float64Array, count: number): void {
  let mx = 0;
  let my = 0;
  for (let i = 0; i < count; i++) {
    mx += y[2 * i];
    my += y[2 * i + 1];
  }
  mx /= count;
  my /= count;
  for (let i = 0; i < count; i++) {
    y[2 * i] -= mx;
    y[2 * i + 1] -= my;
  }
}
