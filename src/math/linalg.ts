/**
 * Small dense linear algebra on row-major Float64Array matrices, enough for PCA and Joint
 * Bayesian (d up to a few hundred). Everything is plain loops ordered so the innermost loop
 * walks contiguous memory.
 */
import { MobileIdError } from '../errors.js';

/** A matrix that should be symmetric positive definite is not (numerically). */
export class SingularMatrixError extends MobileIdError {
  override name = 'SingularMatrixError';
}

/** Operands whose sizes do not match the dimensions given, or non-finite entries. */
export class DimensionError extends MobileIdError {
  override name = 'DimensionError';
}

type Vector = Float32Array | Float64Array;

function expectLength(what: string, m: ArrayLike<number>, length: number): void {
  if (m.length !== length) {
    throw new DimensionError(`${what} has ${m.length} elements, expected ${length}`);
  }
}

/** C (n x m) = A (n x k) * B (k x m). */
export function matMul(a: Vector, b: Vector, n: number, k: number, m: number): Float64Array {
  expectLength('matMul left operand', a, n * k);
  expectLength('matMul right operand', b, k * m);
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const ci = i * m;
    const ai = i * k;
    let p = 0;
    // Four rows of B per pass over row i of C: a quarter of the loads and stores of C.
    for (; p + 4 <= k; p += 4) {
      const a0 = a[ai + p];
      const a1 = a[ai + p + 1];
      const a2 = a[ai + p + 2];
      const a3 = a[ai + p + 3];
      const b0 = p * m;
      const b1 = b0 + m;
      const b2 = b1 + m;
      const b3 = b2 + m;
      for (let j = 0; j < m; j++) {
        c[ci + j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
      }
    }
    for (; p < k; p++) {
      const aip = a[ai + p];
      const bp = p * m;
      for (let j = 0; j < m; j++) c[ci + j] += aip * b[bp + j];
    }
  }
  return c;
}

/** Transpose of a rows x cols matrix. */
export function transpose(a: Vector, rows: number, cols: number): Float64Array {
  expectLength('transpose operand', a, rows * cols);
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  }
  return t;
}

/** Replace an n x n matrix by (A + A')/2 in place, removing round-off asymmetry. */
export function symmetrise(a: Float64Array, n: number): Float64Array {
  expectLength('symmetrise operand', a, n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (a[i * n + j] + a[j * n + i]);
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

/**
 * Lower-triangular L with A = L L' for a symmetric positive definite n x n A (only the lower
 * triangle of A is read). Throws SingularMatrixError when a pivot is not clearly positive.
 */
export function cholesky(a: Float64Array, n: number): Float64Array {
  expectLength('cholesky operand', a, n * n);
  const l = new Float64Array(n * n);
  let maxDiagonal = 0;
  for (let i = 0; i < n; i++) maxDiagonal = Math.max(maxDiagonal, Math.abs(a[i * n + i]));
  // Pivots below this are round-off, not information: treat the matrix as singular.
  const tiny = maxDiagonal * n * Number.EPSILON;
  for (let j = 0; j < n; j++) {
    const lj = j * n;
    let d = a[lj + j];
    for (let k = 0; k < j; k++) d -= l[lj + k] * l[lj + k];
    if (!(d > tiny)) {
      throw new SingularMatrixError(
        `matrix is not positive definite (pivot ${j} of ${n} is ${d.toExponential(3)})`,
      );
    }
    const djj = Math.sqrt(d);
    l[lj + j] = djj;
    for (let i = j + 1; i < n; i++) {
      const li = i * n;
      let s = a[li + j];
      for (let k = 0; k < j; k++) s -= l[li + k] * l[lj + k];
      l[li + j] = s / djj;
    }
  }
  return l;
}

/** Solve L Y = B in place (L lower triangular n x n, B n x cols). */
export function solveLower(l: Float64Array, b: Float64Array, n: number, cols: number): Float64Array {
  expectLength('triangular factor', l, n * n);
  expectLength('right-hand side', b, n * cols);
  for (let i = 0; i < n; i++) {
    const bi = i * cols;
    for (let k = 0; k < i; k++) {
      const lik = l[i * n + k];
      if (lik === 0) continue;
      const bk = k * cols;
      for (let j = 0; j < cols; j++) b[bi + j] -= lik * b[bk + j];
    }
    const inv = 1 / l[i * n + i];
    for (let j = 0; j < cols; j++) b[bi + j] *= inv;
  }
  return b;
}

/** Solve L' X = Y in place (L lower triangular n x n, Y n x cols). */
export function solveUpperTransposed(
  l: Float64Array,
  y: Float64Array,
  n: number,
  cols: number,
): Float64Array {
  expectLength('triangular factor', l, n * n);
  expectLength('right-hand side', y, n * cols);
  for (let i = n - 1; i >= 0; i--) {
    const yi = i * cols;
    const inv = 1 / l[i * n + i];
    for (let j = 0; j < cols; j++) y[yi + j] *= inv;
    // Row i of X is final: remove its contribution from the rows above (column i of L').
    for (let k = 0; k < i; k++) {
      const lik = l[i * n + k];
      if (lik === 0) continue;
      const yk = k * cols;
      for (let j = 0; j < cols; j++) y[yk + j] -= lik * y[yi + j];
    }
  }
  return y;
}

/** X = A^-1 B given the Cholesky factor L of A (B is n x cols and is not modified). */
export function choleskySolve(l: Float64Array, b: Vector, n: number, cols: number): Float64Array {
  const x = Float64Array.from(b);
  solveLower(l, x, n, cols);
  return solveUpperTransposed(l, x, n, cols);
}

/**
 * Upper-triangular U with A^-1 = U'U, for a symmetric positive definite n x n A, without forming
 * A^-1: with J the order-reversing permutation, J A J = L L' (Cholesky), so A = R R' with
 * R = J L J upper triangular, and U = R^-1. Two n^3/3-size steps instead of an inverse and a
 * second factorisation.
 */
export function upperInverseFactor(a: Float64Array, n: number): Float64Array {
  expectLength('upperInverseFactor operand', a, n * n);
  const reversed = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) reversed[i * n + j] = a[(n - 1 - i) * n + (n - 1 - j)];
  const l = cholesky(reversed, n);
  const r = (i: number, k: number) => l[(n - 1 - i) * n + (n - 1 - k)];
  // U = R^-1 row by row from the bottom: row i = (e_i - sum_{k>i} R[i][k] row k) / R[i][i]
  const u = new Float64Array(n * n);
  for (let i = n - 1; i >= 0; i--) {
    const row = i * n;
    for (let k = i + 1; k < n; k++) {
      const rik = r(i, k);
      if (rik === 0) continue;
      for (let j = k; j < n; j++) u[row + j] -= rik * u[k * n + j];
    }
    const inv = 1 / r(i, i);
    u[row + i] = 1;
    for (let j = i; j < n; j++) u[row + j] *= inv;
  }
  return u;
}

/** Inverse of a symmetric positive definite matrix (symmetrised), via Cholesky. */
export function inverseSpd(a: Float64Array, n: number): Float64Array {
  const identity = new Float64Array(n * n);
  for (let i = 0; i < n; i++) identity[i * n + i] = 1;
  return symmetrise(choleskySolve(cholesky(a, n), identity, n, n), n);
}

export interface SymmetricEigen {
  /** Eigenvalues in descending order. */
  values: Float64Array;
  /** n x n row-major; column j is the unit eigenvector of values[j]. */
  vectors: Float64Array;
}

/**
 * Eigendecomposition of a symmetric n x n matrix: Householder reduction to tridiagonal form
 * followed by the implicit QL algorithm (tred2/tql2 from EISPACK, as in JAMA). Only the lower
 * triangle is trusted; the input is not modified.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  expectLength('symmetricEigen operand', a, n * n);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new DimensionError(`symmetricEigen operand has a non-finite entry at ${i}`);
  }
  // Work on the transpose of JAMA's V (row i holds what JAMA calls column i) so that the
  // O(n^3) loops, which run down JAMA's columns, walk contiguous memory here.
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      v[i * n + j] = a[i * n + j];
      v[j * n + i] = a[i * n + j];
    }
  }
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalise(v, d, e, n);
  tridiagonalQl(v, d, e, n);
  // v now holds eigenvectors as rows, eigenvalues ascending: reverse into columns.
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const src = n - 1 - j;
    values[j] = d[src];
    for (let i = 0; i < n; i++) vectors[i * n + j] = v[src * n + i];
  }
  return { values, vectors };
}

/**
 * Householder tridiagonalisation (JAMA tred2) with W = V' stored row-major: JAMA's V[i][j]
 * is w[j * n + i]. On return d is the diagonal, e the sub-diagonal (e[0] = 0) and w the
 * transposed accumulated orthogonal transform.
 */
function tridiagonalise(w: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  // V[n-1][j] = w[j*n + n-1]
  for (let j = 0; j < n; j++) d[j] = w[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = w[j * n + i - 1];
        w[j * n + i] = 0;
        w[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        w[i * n + j] = f; // V[j][i]
        g = e[j] + w[j * n + j] * f;
        const wj = j * n;
        for (let k = j + 1; k <= i - 1; k++) {
          // V[k][j] = w[j*n+k]
          g += w[wj + k] * d[k];
          e[k] += w[wj + k] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        const wj = j * n;
        for (let k = j; k <= i - 1; k++) w[wj + k] -= f * e[k] + g * d[k];
        d[j] = w[wj + i - 1];
        w[wj + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate transformations.
  for (let i = 0; i < n - 1; i++) {
    w[i * n + n - 1] = w[i * n + i]; // V[n-1][i] = V[i][i]
    w[i * n + i] = 1;
    const h = d[i + 1];
    const wi1 = (i + 1) * n; // holds V[k][i+1] at index k
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = w[wi1 + k] / h;
      for (let j = 0; j <= i; j++) {
        const wj = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += w[wi1 + k] * w[wj + k];
        for (let k = 0; k <= i; k++) w[wj + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) w[wi1 + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[j * n + n - 1];
    w[j * n + n - 1] = 0;
  }
  w[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e) accumulating into w (rows = vectors); JAMA tql2. */
function tridiagonalQl(w: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  if (n > 0) e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = Number.EPSILON;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      do {
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          // Rotate vectors i and i+1 (rows of w).
          const wi = i * n;
          const wi1 = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const hk = w[wi1 + k];
            w[wi1 + k] = s * w[wi + k] + c * hk;
            w[wi + k] = c * w[wi + k] - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] = d[l] + f;
    e[l] = 0;
  }
  // Sort ascending (selection sort, swapping vector rows).
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i];
    for (let j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      const wi = i * n;
      const wk = k * n;
      for (let j = 0; j < n; j++) {
        const t = w[wi + j];
        w[wi + j] = w[wk + j];
        w[wk + j] = t;
      }
    }
  }
}

/** Column means of a count x dim row matrix. */
export function columnMeans(rows: Vector, count: number, dim: number): Float64Array {
  expectLength('rows', rows, count * dim);
  const mean = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    const o = r * dim;
    for (let j = 0; j < dim; j++) mean[j] += rows[o + j];
  }
  if (count > 0) for (let j = 0; j < dim; j++) mean[j] /= count;
  return mean;
}

/**
 * Covariance (dim x dim) of count rows around `mean` (the column means when omitted),
 * divided by `count - 1` unless `divisor` says otherwise.
 */
export function covarianceOfRows(
  rows: Vector,
  count: number,
  dim: number,
  opts: { mean?: Float64Array; divisor?: number } = {},
): Float64Array {
  expectLength('rows', rows, count * dim);
  const mean = opts.mean ?? columnMeans(rows, count, dim);
  expectLength('mean', mean, dim);
  const divisor = opts.divisor ?? count - 1;
  if (!(divisor > 0)) throw new DimensionError(`covariance needs a positive divisor, got ${divisor}`);
  const cov = new Float64Array(dim * dim);
  // Rows are taken eight at a time (block row b at c[b * dim]) so each pass over the upper
  // triangle of `cov`, the memory traffic that dominates, adds eight outer products. Rows
  // past the end stay zero.
  const c = new Float64Array(8 * dim);
  const [d1, d2, d3, d4, d5, d6, d7] = [1, 2, 3, 4, 5, 6, 7].map((b) => b * dim);
  for (let r = 0; r < count; r += 8) {
    for (let b = 0; b < 8; b++) {
      if (r + b < count) {
        const o = (r + b) * dim;
        for (let j = 0; j < dim; j++) c[b * dim + j] = rows[o + j] - mean[j];
      } else {
        c.fill(0, b * dim, (b + 1) * dim);
      }
    }
    for (let i = 0; i < dim; i++) {
      const a0 = c[i];
      const a1 = c[d1 + i];
      const a2 = c[d2 + i];
      const a3 = c[d3 + i];
      const a4 = c[d4 + i];
      const a5 = c[d5 + i];
      const a6 = c[d6 + i];
      const a7 = c[d7 + i];
      const base = i * dim;
      for (let j = i; j < dim; j++) {
        cov[base + j] +=
          a0 * c[j] +
          a1 * c[d1 + j] +
          a2 * c[d2 + j] +
          a3 * c[d3 + j] +
          a4 * c[d4 + j] +
          a5 * c[d5 + j] +
          a6 * c[d6 + j] +
          a7 * c[d7 + j];
      }
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = cov[i * dim + j] / divisor;
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  }
  return cov;
}

/**
 * Pooled within-group covariance of rows of `dim` values (each row minus its group's mean, divided
 * by rows - groups) and the group means; groups of one row add nothing and are left out.
 */
export function withinGroupCovariance(groups: readonly (readonly ArrayLike<number>[])[], dim: number): { covariance: Float64Array; centres: Float64Array[]; degrees: number } {
  const covariance = new Float64Array(dim * dim);
  const centres: Float64Array[] = [];
  let degrees = 0;
  const deviation = new Float64Array(dim);
  for (const rows of groups) {
    if (rows.length < 2) continue;
    const centre = new Float64Array(dim);
    for (const row of rows) {
      expectLength('row', row, dim);
      for (let j = 0; j < dim; j++) centre[j] += row[j] / rows.length;
    }
    for (const row of rows) {
      for (let j = 0; j < dim; j++) deviation[j] = row[j] - centre[j];
      for (let j = 0; j < dim; j++) for (let k = 0; k <= j; k++) covariance[j * dim + k] += deviation[j] * deviation[k];
    }
    centres.push(centre);
    degrees += rows.length - 1;
  }
  if (degrees > 0) {
    for (let j = 0; j < dim; j++) for (let k = 0; k <= j; k++) covariance[j * dim + k] = covariance[k * dim + j] = covariance[j * dim + k] / degrees;
  }
  return { covariance, centres, degrees };
}
