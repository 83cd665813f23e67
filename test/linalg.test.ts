import { describe, expect, it } from 'vitest';
import {
  DimensionError,
  SingularMatrixError,
  cholesky,
  choleskySolve,
  columnMeans,
  covarianceOfRows,
  inverseSpd,
  matMul,
  symmetrise,
  symmetricEigen,
  transpose,
  withinGroupCovariance,
} from '../src/math/linalg.js';
import { Pca, PcaError, fitPca } from '../src/math/pca.js';
import { seededRandom } from '../src/math/random.js';

/** Uniform(-0.5, 0.5) entries, the same for the same seed. */
function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  return Float64Array.from({ length: rows * cols }, () => random() - 0.5);
}

/** A random SPD matrix B B' + n I. */
function randomSpd(n: number, seed: number): Float64Array {
  const b = randomMatrix(n, n, seed);
  const a = matMul(b, transpose(b, n, n), n, n, n);
  for (let i = 0; i < n; i++) a[i * n + i] += 0.1;
  return a;
}

function naiveMatMul(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * m + j];
      c[i * m + j] = s;
    }
  }
  return c;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('matMul / transpose', () => {
  it('matches the triple-loop definition on rectangular operands', () => {
    const a = randomMatrix(5, 7, 1);
    const b = randomMatrix(7, 3, 2);
    expect(maxAbsDiff(matMul(a, b, 5, 7, 3), naiveMatMul(a, b, 5, 7, 3))).toBeLessThan(1e-14);
  });

  it('transpose swaps indices and is an involution', () => {
    const a = randomMatrix(4, 6, 3);
    const t = transpose(a, 4, 6);
    expect(t[5 * 4 + 2]).toBe(a[2 * 6 + 5]);
    expect(Array.from(transpose(t, 6, 4))).toEqual(Array.from(a));
  });

  it('rejects operands of the wrong size', () => {
    expect(() => matMul(new Float64Array(6), new Float64Array(6), 2, 3, 3)).toThrow(DimensionError);
  });
});

describe('cholesky', () => {
  it('factors an SPD matrix: L L\' = A with L lower triangular', () => {
    const n = 12;
    const a = randomSpd(n, 4);
    const l = cholesky(a, n);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(l[i * n + j]).toBe(0);
    expect(maxAbsDiff(matMul(l, transpose(l, n, n), n, n, n), a)).toBeLessThan(1e-12);
  });

  it('solves A X = B for several right-hand sides', () => {
    const n = 10;
    const a = randomSpd(n, 5);
    const x = randomMatrix(n, 3, 6);
    const b = matMul(a, x, n, n, 3);
    expect(maxAbsDiff(choleskySolve(cholesky(a, n), b, n, 3), x)).toBeLessThan(1e-10);
  });

  it('inverseSpd gives A A^-1 = I', () => {
    const n = 8;
    const a = randomSpd(n, 7);
    const product = matMul(a, inverseSpd(a, n), n, n, n);
    const identity = new Float64Array(n * n);
    for (let i = 0; i < n; i++) identity[i * n + i] = 1;
    expect(maxAbsDiff(product, identity)).toBeLessThan(1e-10);
  });

  it('throws SingularMatrixError for singular and indefinite matrices', () => {
    // Rank one: v v'.
    const v = [1, 2, 3];
    const rankOne = Float64Array.from({ length: 9 }, (_, k) => v[Math.floor(k / 3)] * v[k % 3]);
    expect(() => cholesky(rankOne, 3)).toThrow(SingularMatrixError);
    expect(() => cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(SingularMatrixError);
    expect(() => cholesky(Float64Array.from([0, 0, 0, 0]), 2)).toThrow(SingularMatrixError);
  });
});

describe('symmetricEigen', () => {
  for (const n of [1, 2, 9, 64]) {
    it(`diagonalises a random symmetric ${n} x ${n} matrix`, () => {
      const a = symmetrise(randomMatrix(n, n, 10 + n), n);
      const { values, vectors } = symmetricEigen(a, n);
      // A V = V diag(values)
      const av = matMul(a, vectors, n, n, n);
      const vd = Float64Array.from(vectors, (x, k) => x * values[k % n]);
      expect(maxAbsDiff(av, vd)).toBeLessThan(1e-12 * n);
      // V' V = I
      const vtv = matMul(transpose(vectors, n, n), vectors, n, n, n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) expect(vtv[i * n + j]).toBeCloseTo(i === j ? 1 : 0, 12);
      }
      for (let j = 1; j < n; j++) expect(values[j]).toBeLessThanOrEqual(values[j - 1]);
      // The trace is the sum of the eigenvalues.
      let trace = 0;
      for (let i = 0; i < n; i++) trace += a[i * n + i];
      expect(values.reduce((s, x) => s + x, 0)).toBeCloseTo(trace, 10);
    });
  }

  it('finds the known spectrum of a diagonal matrix with repeated values', () => {
    const a = Float64Array.from([2, 0, 0, 0, 5, 0, 0, 0, 2]);
    const { values } = symmetricEigen(a, 3);
    expect(Array.from(values)).toEqual([5, 2, 2]);
  });

  it('rejects non-finite input', () => {
    expect(() => symmetricEigen(Float64Array.from([1, NaN, NaN, 1]), 2)).toThrow(DimensionError);
  });
});

describe('covarianceOfRows', () => {
  it('matches the two-pass definition, including a row count not divisible by 8', () => {
    const count = 11;
    const dim = 5;
    const rows = Float32Array.from(randomMatrix(count, dim, 20));
    const mean = columnMeans(rows, count, dim);
    const cov = covarianceOfRows(rows, count, dim);
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j < dim; j++) {
        let s = 0;
        for (let r = 0; r < count; r++) s += (rows[r * dim + i] - mean[i]) * (rows[r * dim + j] - mean[j]);
        expect(cov[i * dim + j]).toBeCloseTo(s / (count - 1), 12);
      }
    }
    expect(covarianceOfRows(rows, count, dim, { divisor: count })[0]).toBeCloseTo(
      (cov[0] * (count - 1)) / count,
      12,
    );
  });
});

describe('withinGroupCovariance', () => {
  it('pools each group around its own mean, against a plain double loop; single rows add nothing', () => {
    const groups = [[[1, 2], [3, 5], [2, 2]], [[0, 0], [4, -2]], [[9, 9]]];
    const { covariance, centres, degrees } = withinGroupCovariance(groups, 2);
    expect(degrees).toBe(3);
    expect(centres.map((c) => Array.from(c))).toEqual([[2, 3], [2, -1]]);
    const expected = [0, 0, 0, 0];
    for (const rows of groups.slice(0, 2)) {
      const m = [0, 1].map((j) => rows.reduce((a, r) => a + r[j], 0) / rows.length);
      for (const r of rows) for (let j = 0; j < 2; j++) for (let k = 0; k < 2; k++) expected[j * 2 + k] += (r[j] - m[j]) * (r[k] - m[k]) / 3;
    }
    Array.from(covariance).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 12));
    expect(() => withinGroupCovariance([[[1, 2, 3], [1, 2, 3]]], 2)).toThrow(DimensionError);
  });
});

describe('fitPca', () => {
  /** Rows with variance 9, 4, 1 along three rotated orthogonal axes in 4-D, plus an offset. */
  function anisotropicRows(count: number): { rows: Float32Array; axes: number[][] } {
    const s = Math.SQRT1_2;
    const axes = [
      [s, s, 0, 0],
      [0, 0, s, -s],
      [s, -s, 0, 0],
    ];
    const random = seededRandom(30);
    const rows = new Float32Array(count * 4);
    for (let i = 0; i < count; i++) {
      // Uniform(-0.5,0.5) has variance 1/12: scale to unit variance first.
      const z = [3, 2, 1].map((sd) => sd * Math.sqrt(12) * (random() - 0.5));
      for (let j = 0; j < 4; j++) {
        rows[i * 4 + j] = 10 + j + z[0] * axes[0][j] + z[1] * axes[1][j] + z[2] * axes[2][j];
      }
    }
    return { rows, axes };
  }

  it('recovers the mean, axes (up to sign) and variances', () => {
    const count = 20000;
    const { rows, axes } = anisotropicRows(count);
    const pca = fitPca(rows, count, 4, 2);
    expect(pca.outputDim).toBe(2);
    for (let j = 0; j < 4; j++) expect(pca.mean[j]).toBeCloseTo(10 + j, 1);
    expect(pca.variances[0]).toBeGreaterThan(8.5);
    expect(pca.variances[0]).toBeLessThan(9.5);
    expect(pca.variances[1]).toBeGreaterThan(3.7);
    expect(pca.variances[1]).toBeLessThan(4.3);
    for (let k = 0; k < 2; k++) {
      const dot = axes[k].reduce((s, v, j) => s + v * pca.components[k * 4 + j], 0);
      expect(Math.abs(dot)).toBeGreaterThan(0.99);
    }
  });

  it('projects onto the axes; whitened projections have unit variance', () => {
    const count = 5000;
    const { rows } = anisotropicRows(count);
    const pca = fitPca(rows, count, 4, 3);
    const x = rows.subarray(4, 8);
    const y = pca.project(x);
    for (let k = 0; k < 3; k++) {
      let s = 0;
      for (let j = 0; j < 4; j++) s += pca.components[k * 4 + j] * (x[j] - pca.mean[j]);
      expect(y[k]).toBeCloseTo(s, 4);
    }
    const white = fitPca(rows, count, 4, 3, { whiten: true }).projectMany(rows, count);
    const cov = covarianceOfRows(white, count, 3);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) expect(cov[i * 3 + j]).toBeCloseTo(i === j ? 1 : 0, 3);
    }
  });

  it('round-trips through JSON', () => {
    const { rows } = anisotropicRows(200);
    const pca = fitPca(rows, 200, 4, 2, { whiten: true });
    const again = Pca.fromJSON(JSON.parse(JSON.stringify(pca)));
    expect(Array.from(again.projectMany(rows, 200))).toEqual(Array.from(pca.projectMany(rows, 200)));
    expect(() => Pca.fromJSON({ ...pca.toJSON(), mean: [1] })).toThrow(PcaError);
    expect(() => Pca.fromJSON({ ...pca.toJSON(), version: 2 })).toThrow(PcaError);
  });

  it('rejects bad input with PcaError', () => {
    const rows = new Float32Array(12);
    expect(() => fitPca(rows, 3, 5, 2)).toThrow(PcaError);
    expect(() => fitPca(rows, 3, 4, 5)).toThrow(PcaError);
    expect(() => fitPca(rows, 3, 4, 0)).toThrow(PcaError);
    expect(() => fitPca(rows, 1, 12, 1)).toThrow(PcaError);
    rows[5] = NaN;
    expect(() => fitPca(rows, 3, 4, 2)).toThrow(PcaError);
    // Constant data has nothing to whiten.
    expect(() => fitPca(new Float32Array(12), 3, 4, 1, { whiten: true })).toThrow(PcaError);
    const pca = fitPca(Float32Array.from(randomMatrix(3, 4, 1)), 3, 4, 2);
    expect(() => pca.project(new Float32Array(3))).toThrow(PcaError);
  });
});
