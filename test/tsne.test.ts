import { describe, expect, it } from 'vitest';
import {
  barnesHutGradient,
  conditionalProbabilities,
  exactGradient,
  jointProbabilities,
  maxPerplexity,
  tsne,
  TsneInputError,
  type SparseAffinities,
  type TsneStage,
} from '../src/gallery/tsne';
import { exactKnn, KnnInputError } from '../src/math/knn';
import { gaussian, seededRandom } from '../src/math/random';

/** `clusters` Gaussian blobs (unit spread) whose centres are `separation` apart on average. */
function blobs(count: number, dim: number, clusters: number, separation: number, seed: number) {
  const uniform = seededRandom(seed);
  const centres = Array.from({ length: clusters * dim }, () => (gaussian(uniform) * separation) / Math.SQRT2);
  const rows = new Float32Array(count * dim);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % clusters;
    for (let d = 0; d < dim; d++) rows[i * dim + d] = centres[labels[i] * dim + d] + gaussian(uniform);
  }
  return { rows, labels };
}

/** Plain reference: all other rows sorted by squared distance, ties by index. */
function bruteForceNeighbours(rows: Float32Array, count: number, dim: number, i: number): { j: number; d2: number }[] {
  const all: { j: number; d2: number }[] = [];
  for (let j = 0; j < count; j++) {
    if (j === i) continue;
    let d2 = 0;
    for (let d = 0; d < dim; d++) d2 += (rows[i * dim + d] - rows[j * dim + d]) ** 2;
    all.push({ j, d2 });
  }
  return all.sort((a, b) => a.d2 - b.d2 || a.j - b.j);
}

function denseP(P: SparseAffinities): Float64Array {
  const n = P.count;
  const dense = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let e = P.rowStart[i]; e < P.rowStart[i + 1]; e++) dense[i * n + P.columns[e]] += P.values[e];
  }
  return dense;
}

/** Plain reference: KL(P || Q) with Q_ij = (1 + |y_i - y_j|^2)^-1 / Z. */
function klDivergence(P: Float64Array, y: Float64Array, n: number): number {
  let z = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) if (j !== i) z += 1 / (1 + (y[2 * i] - y[2 * j]) ** 2 + (y[2 * i + 1] - y[2 * j + 1]) ** 2);
  }
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const p = P[i * n + j];
      if (j === i || p === 0) continue;
      const q = 1 / (1 + (y[2 * i] - y[2 * j]) ** 2 + (y[2 * i + 1] - y[2 * j + 1]) ** 2) / z;
      kl += p * Math.log(p / q);
    }
  }
  return kl;
}

function relativeError(approx: Float64Array, exact: Float64Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < exact.length; i++) {
    diff += (approx[i] - exact[i]) ** 2;
    norm += exact[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

/** Mean fraction of each point's k nearest 2-D neighbours sharing its label. */
function labelAgreement(layout: Float32Array, labels: Int32Array, k: number): number {
  const { indices } = exactKnn(layout, labels.length, 2, k);
  let same = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let j = 0; j < k; j++) if (labels[indices[i * k + j]] === labels[i]) same++;
  }
  return same / (labels.length * k);
}

function randomLayout(n: number, spread: number, seed: number): Float64Array {
  const uniform = seededRandom(seed);
  return Float64Array.from({ length: 2 * n }, () => gaussian(uniform) * spread);
}

describe('exactKnn', () => {
  it('matches brute force, including duplicate rows and tied distances', () => {
    const count = 203; // not a multiple of the 4-row tile
    const dim = 7;
    const { rows } = blobs(count, dim, 3, 4, 11);
    // Duplicates and a coarse grid make many equal distances.
    for (let d = 0; d < dim; d++) rows[50 * dim + d] = rows[10 * dim + d];
    for (let d = 0; d < dim; d++) rows[51 * dim + d] = rows[10 * dim + d];
    for (let i = 100; i < 140; i++) for (let d = 0; d < dim; d++) rows[i * dim + d] = Math.round(rows[i * dim + d]);
    const k = 12;
    const { indices, distances2 } = exactKnn(rows, count, dim, k);
    let tied = 0;
    for (let i = 0; i < count; i++) {
      const all = bruteForceNeighbours(rows, count, dim, i);
      const trueD2 = new Map(all.map(({ j, d2 }) => [j, d2]));
      const returned = new Set<number>();
      for (let r = 0; r < k; r++) {
        const j = indices[i * k + r];
        returned.add(j);
        expect(j).not.toBe(i);
        expect(distances2[i * k + r]).toBeCloseTo(all[r].d2, 9);
        expect(distances2[i * k + r]).toBeCloseTo(trueD2.get(j)!, 9);
      }
      expect(returned.size).toBe(k);
      // Among equal distances any order is exact; elsewhere the very same neighbours.
      for (let r = 0; r < k; r++) {
        const isTie = (a: number, b: number) => b >= 0 && b < all.length && Math.abs(all[a].d2 - all[b].d2) < 1e-9;
        if (isTie(r, r - 1) || isTie(r, r + 1)) tied++;
        else expect(indices[i * k + r]).toBe(all[r].j);
      }
    }
    expect(tied).toBeGreaterThan(0);
  });

  it('rejects k >= count and non-finite rows', () => {
    expect(() => exactKnn(new Float32Array(6), 3, 2, 3)).toThrow(KnnInputError);
    expect(() => exactKnn(new Float32Array([0, 1, NaN, 2]), 2, 2, 1)).toThrow(KnnInputError);
  });
});

describe('input affinities', () => {
  const count = 120;
  const dim = 5;
  const k = 30;
  const perplexity = 10;
  const { rows } = blobs(count, dim, 4, 5, 3);
  const neighbours = exactKnn(rows, count, dim, k);

  it('calibrates every row to the perplexity', () => {
    const p = conditionalProbabilities(neighbours.distances2, count, k, perplexity);
    for (let i = 0; i < count; i++) {
      let sum = 0;
      let entropy = 0;
      for (let j = 0; j < k; j++) {
        const v = p[i * k + j];
        sum += v;
        if (v > 0) entropy -= v * Math.log(v);
        // Gaussian weights never increase with distance.
        if (j > 0) expect(v).toBeLessThanOrEqual(p[i * k + j - 1] * (1 + 1e-12));
      }
      expect(sum).toBeCloseTo(1, 12);
      expect(Math.exp(entropy)).toBeCloseTo(perplexity, 3);
    }
  });

  it('symmetrises to (p(j|i) + p(i|j)) / 2N', () => {
    const conditional = conditionalProbabilities(neighbours.distances2, count, k, perplexity);
    const expected = new Float64Array(count * count);
    for (let i = 0; i < count; i++) {
      for (let r = 0; r < k; r++) {
        const j = neighbours.indices[i * k + r];
        expected[i * count + j] += conditional[i * k + r] / (2 * count);
        expected[j * count + i] += conditional[i * k + r] / (2 * count);
      }
    }
    const P = denseP(jointProbabilities(neighbours, count, perplexity));
    let total = 0;
    for (let e = 0; e < count * count; e++) {
      expect(P[e]).toBeCloseTo(expected[e], 14);
      total += P[e];
    }
    expect(total).toBeCloseTo(1, 12);
  });
});

describe('gradients', () => {
  const count = 150;
  const { rows } = blobs(count, 10, 5, 6, 5);
  const P = jointProbabilities(exactKnn(rows, count, 10, 30), count, 10);

  it('the exact gradient matches finite differences of KL(P || Q)', () => {
    const n = 40;
    const small = jointProbabilities(exactKnn(rows.subarray(0, n * 10), n, 10, 12), n, 4);
    const dense = denseP(small);
    const y = randomLayout(n, 2, 9);
    const gradient = exactGradient(small, y);
    const numeric = new Float64Array(2 * n);
    const h = 1e-5;
    for (let c = 0; c < 2 * n; c++) {
      const plus = Float64Array.from(y);
      const minus = Float64Array.from(y);
      plus[c] += h;
      minus[c] -= h;
      numeric[c] = (klDivergence(dense, plus, n) - klDivergence(dense, minus, n)) / (2 * h);
    }
    expect(relativeError(gradient, numeric)).toBeLessThan(1e-6);
  });

  it('scales the attraction by the exaggeration', () => {
    const y = randomLayout(count, 3, 4);
    const g1 = exactGradient(P, y, 1);
    const g12 = exactGradient(P, y, 12);
    const attraction = exactGradient(P, y, 2).map((v, i) => v - g1[i]);
    for (let i = 0; i < g1.length; i++) expect(g12[i]).toBeCloseTo(g1[i] + 11 * attraction[i], 10);
  });

  // A spread-out random layout and a clustered one (a short t-SNE run) as a real layout looks.
  const layouts = {
    random: randomLayout(count, 5, 8),
    clustered: Float64Array.from(tsne(rows, count, 10, { perplexity: 10, iterations: 300 })),
  };
  for (const [name, y] of Object.entries(layouts)) {
    it(`Barnes-Hut agrees with the exact gradient (${name} layout)`, () => {
      const exact = exactGradient(P, y);
      expect(relativeError(barnesHutGradient(P, y, 0), exact)).toBeLessThan(1e-10);
      expect(relativeError(barnesHutGradient(P, y, 0.1), exact)).toBeLessThan(1e-3);
      expect(relativeError(barnesHutGradient(P, y, 0.5), exact)).toBeLessThan(0.05);
      // Exaggerated gradients too (the attraction is exact in both).
      expect(relativeError(barnesHutGradient(P, y, 0.5, 12), exactGradient(P, y, 12))).toBeLessThan(0.05);
    });
  }
});

describe('tsne', () => {
  it('keeps well-separated clusters apart (10-NN label agreement in 2-D >= 0.95)', () => {
    const { rows, labels } = blobs(400, 20, 5, 12, 21);
    const layout = tsne(rows, 400, 20, { seed: 3 });
    expect(layout.length).toBe(800);
    expect(layout.every(Number.isFinite)).toBe(true);
    expect(labelAgreement(layout, labels, 10)).toBeGreaterThanOrEqual(0.95);
  });

  it('reduces inputs above 50 dimensions by PCA first and reports progress by stage', () => {
    const { rows, labels } = blobs(300, 80, 4, 12, 22);
    const seen: { stage: TsneStage; fraction: number }[] = [];
    const layout = tsne(rows, 300, 80, { perplexity: 20, iterations: 1001, onProgress: (stage, fraction) => seen.push({ stage, fraction }) });
    expect(labelAgreement(layout, labels, 10)).toBeGreaterThanOrEqual(0.95);
    const stages = [...new Set(seen.map((s) => s.stage))];
    expect(stages).toEqual(['pca', 'neighbours', 'affinities', 'optimise']);
    for (const s of seen) expect(s.fraction).toBeGreaterThanOrEqual(0);
    for (const s of seen) expect(s.fraction).toBeLessThanOrEqual(1);
    expect(seen.at(-1)).toEqual({ stage: 'optimise', fraction: 1 });
  });

  it('is deterministic for a seed', () => {
    const { rows } = blobs(120, 8, 3, 6, 23);
    const opts = { perplexity: 10, iterations: 200, seed: 42 };
    const a = tsne(rows, 120, 8, opts);
    const b = tsne(rows, 120, 8, opts);
    const c = tsne(rows, 120, 8, { ...opts, seed: 43 });
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(c)).not.toEqual(Array.from(a));
  });

  it('handles coincident points', () => {
    const rows = new Float32Array(60 * 3);
    for (let i = 30; i < 60; i++) rows.fill(5, i * 3, i * 3 + 3); // two groups of identical rows
    const layout = tsne(rows, 60, 3, { perplexity: 5, iterations: 300 });
    expect(layout.every(Number.isFinite)).toBe(true);
  });

  it('embeds as few as 2 and 3 points at the largest perplexity they allow', () => {
    expect([2, 3, 4, 7, 100].map(maxPerplexity)).toEqual([1, 1, 1, 2, 33]);
    for (const count of [2, 3]) {
      const rows = Float32Array.from({ length: count * 4 }, (_, i) => Math.cos(i * 1.7));
      const layout = tsne(rows, count, 4, { perplexity: maxPerplexity(count), iterations: 100 });
      expect(layout.length).toBe(2 * count);
      expect(layout.every(Number.isFinite)).toBe(true);
    }
  });

  it('rejects bad input with TsneInputError', () => {
    const rows = new Float32Array(100 * 3).map((_, i) => Math.sin(i));
    expect(() => tsne(new Float32Array(3), 1, 3)).toThrow(TsneInputError);
    expect(() => tsne(rows, 100, 4)).toThrow(TsneInputError);
    const withNaN = Float32Array.from(rows);
    withNaN[17] = NaN;
    expect(() => tsne(withNaN, 100, 3, { perplexity: 5 })).toThrow(/point 5 has a non-finite value/);
    expect(() => tsne(rows.subarray(0, 80 * 3), 80, 3)).toThrow(/perplexity 30 is too large for 80 points/);
    expect(() => tsne(rows, 100, 3, { perplexity: 0.5 })).toThrow(TsneInputError);
    expect(() => tsne(rows, 100, 3, { perplexity: 5, theta: 1.5 })).toThrow(TsneInputError);
    expect(() => tsne(rows, 100, 3, { perplexity: 5, iterations: 0 })).toThrow(TsneInputError);
    expect(() => tsne(rows, 100, 3, { perplexity: 5, learningRate: -1 })).toThrow(TsneInputError);
  });
});
