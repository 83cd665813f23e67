/**
 * Principal component analysis: covariance (dim x dim) then a symmetric eigendecomposition,
 * which is cheap whenever dim is a few hundred, however many rows there are.
 */
import { MobileIdError } from '../errors.js';
import { covarianceOfRows, columnMeans, symmetricEigen } from './linalg.js';

/** Bad PCA input (sizes, non-finite values) or an invalid serialised PCA. */
export class PcaError extends MobileIdError {
  override name = 'PcaError';
}

export interface PcaOptions {
  /** Divide each projected coordinate by its standard deviation (unit variance outputs). */
  whiten?: boolean;
}

/** The plain-JSON form of a fitted PCA (`Pca.toJSON` / `Pca.fromJSON`). */
export interface PcaJson {
  format: 'mobileid-pca';
  version: 1;
  dim: number;
  components: number;
  whiten: boolean;
  mean: number[];
  /** components x dim, row k = k-th principal axis. */
  axes: number[];
  variances: number[];
}

export class Pca {
  /** Output dimension. */
  readonly outputDim: number;
  /** The axes divided by their standard deviations when whitening, else a copy of them. */
  private readonly scaledAxes: Float64Array;

  /**
   * @param mean input mean (dim)
   * @param components outputDim x dim row-major, row k = unit principal axis k
   * @param variances variance along each axis, descending
   */
  constructor(
    readonly dim: number,
    readonly mean: Float64Array,
    readonly components: Float64Array,
    readonly variances: Float64Array,
    readonly whiten: boolean,
  ) {
    this.outputDim = variances.length;
    if (mean.length !== dim || components.length !== this.outputDim * dim) {
      throw new PcaError(
        `inconsistent PCA: dim ${dim}, mean ${mean.length}, ${this.outputDim} variances, ` +
          `${components.length} axis entries`,
      );
    }
    if (whiten) {
      // Below this a variance is round-off of a zero eigenvalue; dividing by it is noise.
      const floor = (variances[0] ?? 0) * dim * Number.EPSILON;
      for (let k = 0; k < this.outputDim; k++) {
        if (!(variances[k] > floor)) {
          throw new PcaError(`cannot whiten: component ${k} has variance ${variances[k]}`);
        }
      }
    }
    // Folding the whitening into the axes makes projection one matrix-vector product.
    this.scaledAxes = new Float64Array(components);
    if (whiten) {
      for (let k = 0; k < this.outputDim; k++) {
        const s = 1 / Math.sqrt(variances[k]);
        for (let j = 0; j < dim; j++) this.scaledAxes[k * dim + j] *= s;
      }
    }
  }

  /** Project one row (length dim). */
  project(x: Float32Array): Float32Array {
    if (x.length !== this.dim) throw new PcaError(`row has ${x.length} values, PCA expects ${this.dim}`);
    return this.projectMany(x, 1);
  }

  /** Project count rows (count x dim) into count x outputDim. */
  projectMany(rows: Float32Array, count: number): Float32Array {
    const { dim, outputDim, mean, scaledAxes } = this;
    if (rows.length !== count * dim) {
      throw new PcaError(`rows have ${rows.length} values, expected ${count} x ${dim}`);
    }
    const out = new Float32Array(count * outputDim);
    const centred = new Float64Array(dim);
    for (let r = 0; r < count; r++) {
      const o = r * dim;
      for (let j = 0; j < dim; j++) centred[j] = rows[o + j] - mean[j];
      const o2 = r * outputDim;
      let k = 0;
      // Four axes per pass: independent sums and one load of centred[j] for all four.
      for (; k + 4 <= outputDim; k += 4) {
        const a0 = k * dim;
        const a1 = a0 + dim;
        const a2 = a1 + dim;
        const a3 = a2 + dim;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let j = 0; j < dim; j++) {
          const c = centred[j];
          s0 += scaledAxes[a0 + j] * c;
          s1 += scaledAxes[a1 + j] * c;
          s2 += scaledAxes[a2 + j] * c;
          s3 += scaledAxes[a3 + j] * c;
        }
        out[o2 + k] = s0;
        out[o2 + k + 1] = s1;
        out[o2 + k + 2] = s2;
        out[o2 + k + 3] = s3;
      }
      for (; k < outputDim; k++) {
        const a = k * dim;
        let s = 0;
        for (let j = 0; j < dim; j++) s += scaledAxes[a + j] * centred[j];
        out[o2 + k] = s;
      }
    }
    return out;
  }

  toJSON(): PcaJson {
    return {
      format: 'mobileid-pca',
      version: 1,
      dim: this.dim,
      components: this.outputDim,
      whiten: this.whiten,
      mean: Array.from(this.mean),
      axes: Array.from(this.components),
      variances: Array.from(this.variances),
    };
  }

  static fromJSON(json: unknown): Pca {
    const j = json as Partial<PcaJson> | null;
    if (!j || typeof j !== 'object' || j.format !== 'mobileid-pca') throw new PcaError('not a serialised PCA');
    if (j.version !== 1) throw new PcaError(`unsupported PCA version ${String(j.version)}`);
    const numbers = (name: string, v: unknown, length: number): Float64Array => {
      if (!Array.isArray(v) || v.length !== length || !v.every((x) => Number.isFinite(x))) {
        throw new PcaError(`PCA field ${name} must be ${length} finite numbers`);
      }
      return Float64Array.from(v as number[]);
    };
    const { dim, components } = j;
    if (!Number.isInteger(dim) || !Number.isInteger(components) || dim! < 1 || components! < 1) {
      throw new PcaError('PCA dim and components must be positive integers');
    }
    return new Pca(
      dim!,
      numbers('mean', j.mean, dim!),
      numbers('axes', j.axes, components! * dim!),
      numbers('variances', j.variances, components!),
      j.whiten === true,
    );
  }
}

/**
 * Fit a PCA keeping `components` axes of `count` rows of `dim` values.
 * Each axis's sign is fixed (largest-magnitude entry positive) so fits are reproducible.
 */
export function fitPca(
  rows: Float32Array,
  count: number,
  dim: number,
  components: number,
  opts: PcaOptions = {},
): Pca {
  if (!Number.isInteger(count) || !Number.isInteger(dim) || count < 2 || dim < 1) {
    throw new PcaError(`PCA needs at least 2 rows of at least 1 value (got ${count} x ${dim})`);
  }
  if (rows.length !== count * dim) {
    throw new PcaError(`rows have ${rows.length} values, expected ${count} x ${dim}`);
  }
  if (!Number.isInteger(components) || components < 1 || components > dim) {
    throw new PcaError(`components must be an integer in 1..${dim}, got ${components}`);
  }
  for (let i = 0; i < rows.length; i++) {
    if (!Number.isFinite(rows[i])) throw new PcaError(`row ${Math.floor(i / dim)} has a non-finite value`);
  }
  const mean = columnMeans(rows, count, dim);
  const cov = covarianceOfRows(rows, count, dim, { mean });
  const { values, vectors } = symmetricEigen(cov, dim);
  const axes = new Float64Array(components * dim);
  const variances = new Float64Array(components);
  for (let k = 0; k < components; k++) {
    // Tiny negative eigenvalues are round-off of a semidefinite matrix.
    variances[k] = Math.max(0, values[k]);
    let largest = 0;
    for (let j = 0; j < dim; j++) {
      const v = vectors[j * dim + k];
      if (Math.abs(v) > Math.abs(largest)) largest = v;
    }
    const sign = largest < 0 ? -1 : 1;
    for (let j = 0; j < dim; j++) axes[k * dim + j] = sign * vectors[j * dim + k];
  }
  return new Pca(dim, mean, axes, variances, opts.whiten === true);
}
