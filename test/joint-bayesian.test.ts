import { describe, expect, it } from 'vitest';
import { cholesky, inverseSpd, matMul, transpose } from '../src/math/linalg.js';
import { gaussian, seededRandom } from '../src/math/random.js';
import {
  FeatureDimensionError,
  NotFittedError,
  SingularCovarianceError,
  TooFewIdentitiesError,
  VerifierFormatError,
  VerifierInputError,
} from '../src/verify/errors.js';
import {
  JointBayesianModel,
  fitJointBayesian,
  type JointBayesianFit,
} from '../src/verify/joint-bayesian.js';
import { CosineVerifier, EuclideanVerifier, JointBayesianVerifier, createVerifier } from '../src/verify/verifier.js';

/** Deterministic standard normal samples. */
function normalSamples(seed: number): () => number {
  const random = seededRandom(seed);
  return () => gaussian(random);
}

/** A random SPD matrix with eigenvalues spread over [scale/10, scale]-ish. */
function randomSpd(d: number, scale: number, next: () => number): Float64Array {
  const b = Float64Array.from({ length: d * d }, next);
  const s = matMul(b, transpose(b, d, d), d, d, d);
  for (let k = 0; k < d * d; k++) s[k] *= scale / d;
  for (let k = 0; k < d; k++) s[k * d + k] += scale / 10;
  return s;
}

interface Synthetic {
  rows: Float32Array;
  labels: Int32Array;
  count: number;
  betweenCov: Float64Array;
  withinCov: Float64Array;
}

/** Identities mu ~ N(offset, S_mu), images mu + eps with eps ~ N(0, S_eps). */
function synthetic(d: number, imagesPerIdentity: number[], seed: number): Synthetic {
  const next = normalSamples(seed);
  const betweenCov = randomSpd(d, 4, next);
  const withinCov = randomSpd(d, 1, next);
  const lb = cholesky(betweenCov, d);
  const lw = cholesky(withinCov, d);
  const sample = (l: Float64Array): Float64Array => {
    const z = Float64Array.from({ length: d }, next);
    return matMul(l, z, d, d, 1);
  };
  const count = imagesPerIdentity.reduce((s, m) => s + m, 0);
  const rows = new Float32Array(count * d);
  const labels = new Int32Array(count);
  let r = 0;
  imagesPerIdentity.forEach((m, identity) => {
    const mu = sample(lb);
    for (let j = 0; j < m; j++, r++) {
      const eps = sample(lw);
      // A constant offset: fitting must centre.
      for (let k = 0; k < d; k++) rows[r * d + k] = 3 + mu[k] + eps[k];
      labels[r] = 1000 + 7 * identity; // arbitrary label values
    }
  });
  return { rows, labels, count, betweenCov, withinCov };
}

function relativeError(estimate: Float64Array, truth: Float64Array): number {
  let diff = 0;
  let norm = 0;
  for (let k = 0; k < truth.length; k++) {
    diff += (estimate[k] - truth[k]) ** 2;
    norm += truth[k] ** 2;
  }
  return Math.sqrt(diff / norm);
}

/** The paper's formula with explicit matrices: A, G from S_mu, S_eps by inverses and products. */
function directScore(fit: JointBayesianFit, x1: Float32Array, x2: Float32Array): number {
  const d = fit.dim;
  const inputDim = fit.mean.length;
  const toWorking = (x: Float32Array): Float64Array =>
    matMul(fit.workingProjection, Float64Array.from(x, (v, j) => v - fit.mean[j]), d, inputDim, 1);
  const sm = fit.betweenCov;
  const se = fit.withinCov;
  const f = inverseSpd(se, d);
  const twoSmPlusSe = Float64Array.from(sm, (v, k) => 2 * v + se[k]);
  // G = -(2 S_mu + S_eps)^-1 S_mu S_eps^-1 (matrix products, not elementwise).
  const g = matMul(matMul(inverseSpd(twoSmPlusSe, d), sm, d, d, d), f, d, d, d).map((v) => -v);
  const total = inverseSpd(Float64Array.from(sm, (v, k) => v + se[k]), d);
  const a = Float64Array.from(total, (v, k) => v - (f[k] + g[k]));
  const quadratic = (m: Float64Array, u: Float64Array, v: Float64Array): number =>
    matMul(u, matMul(m, v, d, d, 1), 1, d, 1)[0];
  const y1 = toWorking(x1);
  const y2 = toWorking(x2);
  return quadratic(a, y1, y1) + quadratic(a, y2, y2) - 2 * quadratic(g, y1, y2);
}

function row(data: Synthetic, r: number, d: number): Float32Array {
  return data.rows.subarray(r * d, (r + 1) * d);
}

describe('fitJointBayesian: recovering the generating covariances', () => {
  it('with many identities per image count (grouped statistics path)', () => {
    const d = 4;
    const sizes = Array.from({ length: 3000 }, (_, i) => 1 + (i % 6));
    const data = synthetic(d, sizes, 1);
    const fit = fitJointBayesian(data.rows, data.count, d, data.labels);
    expect(fit.converged).toBe(true);
    expect(relativeError(fit.betweenCov, data.betweenCov)).toBeLessThan(0.08);
    expect(relativeError(fit.withinCov, data.withinCov)).toBeLessThan(0.04);
  });

  it('with scattered image counts (per-identity path)', () => {
    const d = 3;
    const sizes = Array.from({ length: 600 }, (_, i) => 2 + ((i * 37) % 41));
    const data = synthetic(d, sizes, 2);
    const fit = fitJointBayesian(data.rows, data.count, d, data.labels);
    expect(fit.converged).toBe(true);
    expect(relativeError(fit.betweenCov, data.betweenCov)).toBeLessThan(0.12);
    expect(relativeError(fit.withinCov, data.withinCov)).toBeLessThan(0.04);
  });

  it('reports the exact log-likelihood, which the accelerated EM never decreases', () => {
    const d = 2;
    const data = synthetic(d, [1, 2, 3, 2, 4, 1, 3], 8);
    // Log-density of each identity's stacked images: covariance I (x) S_eps + 11' (x) S_mu.
    const direct = (fit: JointBayesianFit): number => {
      let total = 0;
      let start = 0;
      while (start < data.count) {
        let m = 1;
        while (start + m < data.count && data.labels[start + m] === data.labels[start]) m++;
        const n = m * d;
        const cov = new Float64Array(n * n);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const [p, q] = [i % d, j % d];
            const sameImage = Math.floor(i / d) === Math.floor(j / d);
            cov[i * n + j] = fit.betweenCov[p * d + q] + (sameImage ? fit.withinCov[p * d + q] : 0);
          }
        }
        const x = Float64Array.from(data.rows.subarray(start * d, (start + m) * d), (v, k) => v - fit.mean[k % d]);
        const l = cholesky(cov, n);
        let logDet = 0;
        for (let k = 0; k < n; k++) logDet += 2 * Math.log(l[k * n + k]);
        const quadratic = matMul(x, matMul(inverseSpd(cov, n), x, n, n, 1), 1, n, 1)[0];
        total += -0.5 * (n * Math.log(2 * Math.PI) + logDet + quadratic);
        start += m;
      }
      return total;
    };
    const early = fitJointBayesian(data.rows, data.count, d, data.labels, { maxIterations: 2 });
    expect(early.logLikelihood).toBeCloseTo(direct(early), 8);

    const long = fitJointBayesian(data.rows, data.count, d, data.labels, { maxIterations: 60, tolerance: 0, ridge: 0 });
    expect(long.logLikelihood).toBeCloseTo(direct(long), 8);
    const trace = [...long.logLikelihoods, long.logLikelihood];
    for (let t = 1; t < trace.length; t++) expect(trace[t]).toBeGreaterThanOrEqual(trace[t - 1] - 1e-9);
    expect(long.logLikelihood).toBeGreaterThan(early.logLikelihood);
  });

  it('stops at the iteration cap and reports it', () => {
    const data = synthetic(3, Array.from({ length: 50 }, () => 3), 3);
    const fit = fitJointBayesian(data.rows, data.count, 3, data.labels, { maxIterations: 1 });
    expect(fit.iterations).toBe(1);
    expect(fit.converged).toBe(false);
  });
});

describe('Joint Bayesian scoring', () => {
  const d = 6;
  const data = synthetic(d, Array.from({ length: 400 }, (_, i) => 1 + (i % 5)), 4);

  for (const pcaDim of [undefined, 4]) {
    it(`the O(d) score equals the direct matrix formula (pcaDim ${pcaDim ?? 'none'})`, () => {
      const fit = fitJointBayesian(data.rows, data.count, d, data.labels, { pcaDim });
      expect(fit.model.outputDim).toBe(pcaDim ?? d);
      for (const [i, j] of [
        [0, 1],
        [0, 2],
        [5, 77],
        [100, 101],
        [30, 30],
      ]) {
        const x1 = row(data, i, d);
        const x2 = row(data, j, d);
        const direct = directScore(fit, x1, x2);
        expect(fit.model.score(x1, x2)).toBeCloseTo(direct, 3);
        expect(Math.abs(fit.model.score(x1, x2) - direct)).toBeLessThan(1e-4 * (1 + Math.abs(direct)));
        expect(fit.model.score(x2, x1)).toBeCloseTo(fit.model.score(x1, x2), 6);
      }
    });
  }

  it('scores same-identity pairs above different-identity pairs on average', () => {
    const fit = fitJointBayesian(data.rows, data.count, d, data.labels);
    let same = 0;
    let different = 0;
    let sameCount = 0;
    let differentCount = 0;
    for (let r = 0; r + 1 < data.count; r++) {
      const s = fit.model.score(row(data, r, d), row(data, r + 1, d));
      if (data.labels[r] === data.labels[r + 1]) {
        same += s;
        sameCount++;
      } else {
        different += s;
        differentCount++;
      }
    }
    expect(same / sameCount).toBeGreaterThan(different / differentCount + 1);
  });
});

describe('Joint Bayesian input errors', () => {
  const d = 3;
  const data = synthetic(d, [3, 3, 2, 1], 5);

  it('mismatched dimensions', () => {
    expect(() => fitJointBayesian(data.rows, data.count + 1, d, data.labels)).toThrow(FeatureDimensionError);
    expect(() => fitJointBayesian(data.rows, data.count, d, data.labels.subarray(1))).toThrow(
      FeatureDimensionError,
    );
    const fit = fitJointBayesian(data.rows, data.count, d, data.labels);
    expect(() => fit.model.score(new Float32Array(d), new Float32Array(d + 1))).toThrow(FeatureDimensionError);
    expect(() => fit.model.compare(new Float32Array(d), new Float32Array(2))).toThrow(FeatureDimensionError);
  });

  it('too few identities with repeated images', () => {
    // Identity 0 has 3 images, the others 1 each.
    const labels = Int32Array.from([0, 0, 0, 1, 2, 3, 4, 5, 6]);
    expect(() => fitJointBayesian(data.rows, 9, d, labels)).toThrow(TooFewIdentitiesError);
  });

  it('singular within-identity covariance', () => {
    // Every image of an identity identical: nothing to estimate S_eps from.
    const rows = Float32Array.from([1, 2, 3, 1, 2, 3, 4, 0, 1, 4, 0, 1]);
    expect(() => fitJointBayesian(rows, 4, d, Int32Array.from([0, 0, 1, 1]))).toThrow(SingularCovarianceError);
    // A duplicated coordinate makes S_eps rank deficient; without a ridge that is singular.
    const duplicated = new Float32Array(data.count * 4);
    for (let r = 0; r < data.count; r++) {
      duplicated.set(row(data, r, d), r * 4);
      duplicated[r * 4 + 3] = data.rows[r * d];
    }
    expect(() => fitJointBayesian(duplicated, data.count, 4, data.labels, { ridge: 0 })).toThrow(
      SingularCovarianceError,
    );
    expect(fitJointBayesian(duplicated, data.count, 4, data.labels).model.outputDim).toBe(4);
  });

  it('non-finite values and bad options', () => {
    const rows = Float32Array.from(data.rows);
    rows[4] = NaN;
    expect(() => fitJointBayesian(rows, data.count, d, data.labels)).toThrow(VerifierInputError);
    expect(() => fitJointBayesian(data.rows, data.count, d, data.labels, { pcaDim: 4 })).toThrow(
      VerifierInputError,
    );
    expect(() => fitJointBayesian(data.rows, data.count, d, data.labels, { maxIterations: 0 })).toThrow(
      VerifierInputError,
    );
  });
});

describe('Joint Bayesian model files', () => {
  const d = 5;
  const data = synthetic(d, Array.from({ length: 60 }, () => 3), 6);
  const model = fitJointBayesian(data.rows, data.count, d, data.labels, { pcaDim: 3 }).model;
  const bytes = model.toBytes();

  it('round-trips with bit-identical scores', () => {
    expect(bytes.length).toBe(16 + 4 * (5 + 15 + 3 + 3) + 4);
    const loaded = JointBayesianModel.fromBytes(bytes);
    for (let r = 0; r + 1 < 20; r++) {
      expect(loaded.score(row(data, r, d), row(data, r + 1, d))).toBe(
        model.score(row(data, r, d), row(data, r + 1, d)),
      );
    }
    // A view into a larger buffer works too.
    const padded = new Uint8Array(bytes.length + 8);
    padded.set(bytes, 8);
    expect(JointBayesianModel.fromBytes(padded.subarray(8)).a).toEqual(model.a);
  });

  it('rejects truncated, tampered and foreign files', () => {
    expect(() => JointBayesianModel.fromBytes(bytes.subarray(0, 10))).toThrow(VerifierFormatError);
    expect(() => JointBayesianModel.fromBytes(bytes.subarray(0, bytes.length - 1))).toThrow(VerifierFormatError);
    const tampered = Uint8Array.from(bytes);
    tampered[40] ^= 1;
    expect(() => JointBayesianModel.fromBytes(tampered)).toThrow(/checksum/);
    const magic = Uint8Array.from(bytes);
    magic[0] = 0x50;
    expect(() => JointBayesianModel.fromBytes(magic)).toThrow(/magic/);
    const version = Uint8Array.from(bytes);
    version[4] = 2;
    expect(() => JointBayesianModel.fromBytes(version)).toThrow(/version/);
    const dims = Uint8Array.from(bytes);
    dims[12] = 4; // outputDim 3 -> 4: the length no longer matches
    expect(() => JointBayesianModel.fromBytes(dims)).toThrow(VerifierFormatError);
  });
});

describe('verifiers', () => {
  const a = Float32Array.from([3, 4, 0]);
  const b = Float32Array.from([0, 4, 3]);

  it('cosine and euclidean follow their definitions (higher = more similar)', () => {
    const cosine = createVerifier('cosine');
    expect(cosine).toBeInstanceOf(CosineVerifier);
    expect(cosine.score(a, b)).toBeCloseTo(16 / 25, 6);
    expect(cosine.score(a, a)).toBeCloseTo(1, 6);
    expect(cosine.score(a, new Float32Array(3))).toBe(0);
    const euclidean = createVerifier('euclidean');
    expect(euclidean).toBeInstanceOf(EuclideanVerifier);
    expect(euclidean.score(a, b)).toBeCloseTo(-Math.sqrt(18), 6);
    expect(euclidean.score(a, a)).toBe(-0);
  });

  it('metric verifiers check dimensions against fit and each other', () => {
    const cosine = createVerifier('cosine');
    expect(() => cosine.score(a, Float32Array.from([1, 2]))).toThrow(FeatureDimensionError);
    cosine.fit(new Float32Array(8), 2, 4, Int32Array.from([0, 1]));
    expect(() => cosine.embed(a)).toThrow(FeatureDimensionError);
    expect(() => cosine.fit(new Float32Array(8), 3, 4, Int32Array.from([0, 1, 2]))).toThrow(FeatureDimensionError);
    expect(() => createVerifier('euclidean').embed(Float32Array.from([NaN]))).toThrow(VerifierInputError);
  });

  it('the JB verifier fits, scores like its model, and refuses to score unfitted', () => {
    const jb = createVerifier('jb', { pcaDim: 2 });
    expect(jb).toBeInstanceOf(JointBayesianVerifier);
    expect(() => jb.score(a, b)).toThrow(NotFittedError);
    const data = synthetic(3, Array.from({ length: 40 }, () => 2), 7);
    jb.fit(data.rows, data.count, 3, data.labels);
    expect(jb.lastFit?.dim).toBe(2);
    expect(jb.score(a, b)).toBe(jb.model.score(a, b));
    expect(JointBayesianVerifier.fromModel(jb.model).score(a, b)).toBe(jb.score(a, b));
  });

  it('an unknown kind is a typed error', () => {
    expect(() => createVerifier('hamming' as 'cosine')).toThrow(VerifierInputError);
  });
});
