/**
 * Joint Bayesian face verification (Chen, Cao, Wang, Wen, Sun, ECCV 2012).
 *
 * A face x = mu + eps: identity mu ~ N(0, S_mu), within-person variation eps ~ N(0, S_eps).
 * Both covariances are fitted by EM on labelled rows, optionally after PCA. For scoring, the
 * pair is simultaneously diagonalised (W' S_eps W = I, W' S_mu W = diag(lambda)), so after one
 * projection y = W'(x - mean) per face the paper's log-likelihood ratio
 *   r(x1, x2) = x1'A x1 + x2'A x2 - 2 x1'G x2
 * is a sum over d coordinates with diagonal A and G.
 */
import { crc32 } from '../engine/crc32.js';
import {
  SingularMatrixError,
  cholesky,
  columnMeans,
  covarianceOfRows,
  matMul,
  solveLower,
  solveUpperTransposed,
  symmetrise,
  symmetricEigen,
  transpose,
} from '../math/linalg.js';
import { fitPca } from '../math/pca.js';
import { FeatureDimensionError, SingularCovarianceError, TooFewIdentitiesError, VerifierFormatError, VerifierInputError } from './errors.js';

export interface JointBayesianOptions {
  /** Fit a PCA to this many dimensions on the training rows first (default: no PCA). */
  pcaDim?: number;
  /** Cap on EM steps (default 200). */
  maxIterations?: number;
  /**
   * Stop once an accelerated EM cycle (up to three steps) raises the log-likelihood by less
   * than this many nats per image (default 1e-4).
   */
  tolerance?: number;
  /** Added to S_eps's diagonal, relative to its mean diagonal entry (default 1e-6). */
  ridge?: number;
}

export interface JointBayesianFit {
  model: JointBayesianModel;
  /** Working dimension: pcaDim, or the input dimension without PCA. */
  dim: number;
  /** Working-space coordinates of an input x are workingProjection (dim x inputDim) (x - mean). */
  workingProjection: Float64Array;
  mean: Float64Array;
  /** S_mu (dim x dim) in the working space (centred, after PCA when used). */
  betweenCov: Float64Array;
  /** S_eps (dim x dim, ridge included) in the working space. */
  withinCov: Float64Array;
  /** EM steps taken (SQUAREM takes up to three per cycle). */
  iterations: number;
  converged: boolean;
  /** Log-likelihood of the training rows (working space) of the fitted covariances. */
  logLikelihood: number;
  /** Log-likelihood at the start of each accelerated EM cycle; never decreases. */
  logLikelihoods: number[];
}

/**
 * A fitted Joint Bayesian scorer: y = projection (x - mean), then
 * r = sum_k a_k (y1_k^2 + y2_k^2) - 2 g_k y1_k y2_k. Parameters are float32 so a saved and
 * reloaded model scores bit-identically.
 */
export class JointBayesianModel {
  constructor(
    readonly inputDim: number,
    readonly outputDim: number,
    readonly mean: Float32Array,
    /** outputDim x inputDim, row-major. */
    readonly projection: Float32Array,
    /** Diagonal of A in the projected space. */
    readonly a: Float32Array,
    /** Diagonal of G in the projected space. */
    readonly g: Float32Array,
  ) {
    if (
      mean.length !== inputDim ||
      projection.length !== inputDim * outputDim ||
      a.length !== outputDim ||
      g.length !== outputDim
    ) {
      throw new FeatureDimensionError('inconsistent Joint Bayesian parameter sizes');
    }
  }

  /** The projected feature y (outputDim); do this once per face, then compare() pairs. */
  embed(x: Float32Array): Float32Array {
    const { inputDim, outputDim, mean, projection } = this;
    if (x.length !== inputDim) {
      throw new FeatureDimensionError(`feature has ${x.length} values, the verifier expects ${inputDim}`);
    }
    const centred = new Float64Array(inputDim);
    for (let j = 0; j < inputDim; j++) {
      if (!Number.isFinite(x[j])) throw new VerifierInputError(`feature value ${j} is not finite`);
      centred[j] = x[j] - mean[j];
    }
    const y = new Float32Array(outputDim);
    for (let k = 0; k < outputDim; k++) {
      const o = k * inputDim;
      let s = 0;
      for (let j = 0; j < inputDim; j++) s += projection[o + j] * centred[j];
      y[k] = s;
    }
    return y;
  }

  /** Log-likelihood ratio (up to scale and constant) of two embedded features: O(d). */
  compare(y1: Float32Array, y2: Float32Array): number {
    const { outputDim, a, g } = this;
    if (y1.length !== outputDim || y2.length !== outputDim) {
      throw new FeatureDimensionError(`embedded features must have ${outputDim} values`);
    }
    let r = 0;
    for (let k = 0; k < outputDim; k++) {
      r += a[k] * (y1[k] * y1[k] + y2[k] * y2[k]) - 2 * g[k] * y1[k] * y2[k];
    }
    // finite inputs overflow only with parameters far outside any fitted model's range
    if (!Number.isFinite(r)) throw new VerifierInputError('the score overflows: features or verifier parameters out of range');
    return r;
  }

  score(x1: Float32Array, x2: Float32Array): number {
    return this.compare(this.embed(x1), this.embed(x2));
  }

  /** Little-endian: magic, version, inputDim, outputDim, float32 mean/projection/a/g, CRC-32. */
  toBytes(): Uint8Array {
    const floats = [this.mean, this.projection, this.a, this.g];
    const floatCount = floats.reduce((n, f) => n + f.length, 0);
    const bytes = new Uint8Array(HEADER_BYTES + 4 * floatCount + 4);
    const view = new DataView(bytes.buffer);
    bytes.set(MAGIC, 0);
    view.setUint32(4, FORMAT_VERSION, true);
    view.setUint32(8, this.inputDim, true);
    view.setUint32(12, this.outputDim, true);
    let offset = HEADER_BYTES;
    for (const f of floats) {
      for (let i = 0; i < f.length; i++, offset += 4) view.setFloat32(offset, f[i], true);
    }
    view.setUint32(offset, crc32(bytes.subarray(0, offset)), true);
    return bytes;
  }

  static fromBytes(bytes: Uint8Array): JointBayesianModel {
    if (bytes.length < HEADER_BYTES + 4) {
      throw new VerifierFormatError(`Joint Bayesian file is truncated (${bytes.length} bytes)`);
    }
    for (let i = 0; i < MAGIC.length; i++) {
      if (bytes[i] !== MAGIC[i]) throw new VerifierFormatError('not a Joint Bayesian file (bad magic)');
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = view.getUint32(4, true);
    if (version !== FORMAT_VERSION) {
      throw new VerifierFormatError(`unsupported Joint Bayesian file version ${version}`);
    }
    const inputDim = view.getUint32(8, true);
    const outputDim = view.getUint32(12, true);
    const floatCount = inputDim + inputDim * outputDim + 2 * outputDim;
    const expected = HEADER_BYTES + 4 * floatCount + 4;
    if (inputDim < 1 || outputDim < 1 || bytes.length !== expected) {
      throw new VerifierFormatError(
        `Joint Bayesian file of ${bytes.length} bytes does not match its dimensions ` +
          `${inputDim} -> ${outputDim} (${expected} bytes expected)`,
      );
    }
    const stored = view.getUint32(expected - 4, true);
    if (crc32(bytes.subarray(0, expected - 4)) !== stored) {
      throw new VerifierFormatError('Joint Bayesian file checksum mismatch (corrupted or tampered)');
    }
    let offset = HEADER_BYTES;
    const read = (length: number): Float32Array => {
      const f = new Float32Array(length);
      for (let i = 0; i < length; i++, offset += 4) f[i] = view.getFloat32(offset, true);
      return f;
    };
    const parameters = [read(inputDim), read(inputDim * outputDim), read(outputDim), read(outputDim)] as const;
    if (parameters.some((f) => f.some((v) => !Number.isFinite(v)))) {
      throw new VerifierFormatError('Joint Bayesian file holds NaN or infinite parameters');
    }
    return new JointBayesianModel(inputDim, outputDim, ...parameters);
  }
}

const MAGIC = Uint8Array.from([0x4d, 0x49, 0x4a, 0x42]); // "MIJB"
const FORMAT_VERSION = 1;
const HEADER_BYTES = 16;

/**
 * Fit Joint Bayesian on `count` labelled rows of `dim` values. Identities with a single image
 * still inform S_mu + S_eps; at least two identities must have two or more images.
 */
export function fitJointBayesian(
  rows: Float32Array,
  count: number,
  dim: number,
  labels: Int32Array,
  opts: JointBayesianOptions = {},
): JointBayesianFit {
  const { pcaDim, maxIterations = 200, tolerance = 1e-4, ridge = 1e-6 } = opts;
  validateTrainingInput(rows, count, dim, labels);
  if (pcaDim !== undefined && (!Number.isInteger(pcaDim) || pcaDim < 1 || pcaDim > dim)) {
    throw new VerifierInputError(`pcaDim must be an integer in 1..${dim}, got ${pcaDim}`);
  }
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new VerifierInputError(`maxIterations must be a positive integer, got ${maxIterations}`);
  }
  if (!(tolerance >= 0) || !(ridge >= 0)) {
    throw new VerifierInputError('tolerance and ridge must be non-negative numbers');
  }

  // Working space: centred rows, projected onto the training PCA when asked.
  let mean: Float64Array;
  let inputToWorking: Float64Array; // d x dim
  let working: Float64Array;
  let d: number;
  if (pcaDim !== undefined) {
    const pca = fitPca(rows, count, dim, pcaDim);
    mean = pca.mean;
    inputToWorking = pca.components;
    working = Float64Array.from(pca.projectMany(rows, count));
    d = pcaDim;
  } else {
    mean = columnMeans(rows, count, dim);
    inputToWorking = new Float64Array(dim * dim);
    for (let i = 0; i < dim; i++) inputToWorking[i * dim + i] = 1;
    working = Float64Array.from(rows, (v, i) => v - mean[i % dim]);
    d = dim;
  }

  const stats = identityStatistics(working, count, d, labels);
  const { betweenCov, withinCov, iterations, converged, logLikelihood, logLikelihoods } = maximiseLikelihood(
    stats,
    ridge,
    maxIterations,
    tolerance,
  );

  const { w, lambda } = simultaneouslyDiagonalise(betweenCov, withinCov, d, 0);
  // y = W' P (x - mean): one (d x dim) projection from input space to the diagonal space.
  const projection = matMul(transpose(w, d, d), inputToWorking, d, d, dim);
  // With S_eps = I and S_mu = diag(l): F = I, G = -l/(2l+1), A = 1/(l+1) - 1 - G.
  const a = new Float32Array(d);
  const g = new Float32Array(d);
  for (let k = 0; k < d; k++) {
    const l = lambda[k];
    g[k] = -l / (2 * l + 1);
    a[k] = -(l * l) / ((l + 1) * (2 * l + 1));
  }
  const model = new JointBayesianModel(
    dim,
    d,
    Float32Array.from(mean),
    Float32Array.from(projection),
    a,
    g,
  );
  return {
    model,
    dim: d,
    workingProjection: inputToWorking,
    mean,
    betweenCov,
    withinCov,
    iterations,
    converged,
    logLikelihood,
    logLikelihoods,
  };
}

interface EmResult extends Covariances {
  iterations: number;
  converged: boolean;
  logLikelihood: number;
  logLikelihoods: number[];
}

/**
 * EM from moment estimates, accelerated by SQUAREM (Varadhan & Roland 2008): plain EM crawls
 * wherever S_mu is nearly singular (hundreds of steps on features with little identity
 * signal). Each cycle takes two EM steps, jumps along them, and takes one more EM step from
 * the jump when that did not lose likelihood, so every cycle ends at least as likely as it
 * started. Stops when a cycle gains less than `tolerance` nats per image.
 */
function maximiseLikelihood(
  stats: IdentityStatistics,
  ridge: number,
  maxIterations: number,
  tolerance: number,
): EmResult {
  const { d } = stats;
  let params = initialCovariances(stats, ridge);
  let iterations = 0;
  const em = (p: Covariances): { logLikelihood: number; next: Covariances } => {
    iterations++;
    const { logLikelihood, betweenCov, withinCov } = emStep(stats, p.betweenCov, p.withinCov);
    return { logLikelihood, next: { betweenCov, withinCov: withRidge(withinCov, d, ridge) } };
  };
  const logLikelihoods: number[] = [];
  let converged = false;
  while (!converged && iterations < maxIterations) {
    const start = params;
    const first = em(start);
    logLikelihoods.push(first.logLikelihood);
    params = first.next;
    if (iterations === maxIterations) break;
    const second = em(first.next);
    params = second.next;
    if (iterations === maxIterations) break;
    // `best` is the most likely point seen this cycle; its EM image becomes the next start.
    let best = second;
    try {
      const third = em(extrapolate(start, first.next, second.next, d));
      if (third.logLikelihood >= second.logLikelihood) best = third;
    } catch (e) {
      // A jump to a non-positive-definite S_eps is simply not taken.
      if (!(e instanceof SingularCovarianceError)) throw e;
    }
    converged = best.logLikelihood - first.logLikelihood < tolerance * stats.images;
    params = best.next;
  }
  const logLikelihood = emStep(stats, params.betweenCov, params.withinCov).logLikelihood;
  return { ...params, iterations, converged, logLikelihood, logLikelihoods };
}

function validateTrainingInput(rows: Float32Array, count: number, dim: number, labels: Int32Array): void {
  if (!Number.isInteger(count) || !Number.isInteger(dim) || count < 1 || dim < 1) {
    throw new FeatureDimensionError(`count and dim must be positive integers (got ${count} x ${dim})`);
  }
  if (rows.length !== count * dim) {
    throw new FeatureDimensionError(`rows have ${rows.length} values, expected ${count} x ${dim}`);
  }
  if (labels.length !== count) {
    throw new FeatureDimensionError(`${labels.length} labels for ${count} rows`);
  }
  for (let i = 0; i < rows.length; i++) {
    if (!Number.isFinite(rows[i])) {
      throw new VerifierInputError(`row ${Math.floor(i / dim)} has a non-finite value`);
    }
  }
}

/**
 * Sufficient statistics of the labelled working rows. Identities whose image count m is
 * shared by many others are kept only as that group's scatter sum_i s_i s_i' (s_i = sum of
 * the identity's rows): one d x d transform per EM step instead of one per identity.
 */
interface IdentityStatistics {
  d: number;
  identities: number;
  images: number;
  /** Within-identity scatter sum_i sum_j (x_ij - mean_i)(x_ij - mean_i)'. */
  withinScatter: Float64Array;
  /** Per-identity sums (rows) and image counts, for identities not in a group. */
  sums: Float64Array;
  counts: Int32Array;
  groups: { m: number; size: number; scatter: Float64Array }[];
  /** Scatter of the identity means and the mean of 1 / m (for initialisation). */
  meanScatter: Float64Array;
  meanInverseCount: number;
}

function identityStatistics(x: Float64Array, count: number, d: number, labels: Int32Array): IdentityStatistics {
  const index = new Map<number, number>();
  for (let r = 0; r < count; r++) if (!index.has(labels[r])) index.set(labels[r], index.size);
  const identities = index.size;
  const counts = new Int32Array(identities);
  const sums = new Float64Array(identities * d);
  for (let r = 0; r < count; r++) {
    const i = index.get(labels[r])!;
    counts[i]++;
    for (let k = 0; k < d; k++) sums[i * d + k] += x[r * d + k];
  }
  let repeated = 0;
  for (let i = 0; i < identities; i++) if (counts[i] >= 2) repeated++;
  if (repeated < 2) {
    throw new TooFewIdentitiesError(
      `Joint Bayesian needs at least 2 identities with 2 or more images; got ${repeated} ` +
        `(${identities} identities, ${count} images)`,
    );
  }
  const zero = new Float64Array(d);
  const deviations = new Float64Array(count * d);
  for (let r = 0; r < count; r++) {
    const i = index.get(labels[r])!;
    for (let k = 0; k < d; k++) deviations[r * d + k] = x[r * d + k] - sums[i * d + k] / counts[i];
  }
  const withinScatter = covarianceOfRows(deviations, count, d, { mean: zero, divisor: 1 });
  const identityMeans = Float64Array.from(sums, (s, k) => s / counts[Math.floor(k / d)]);
  const meanScatter = covarianceOfRows(identityMeans, identities, d, { mean: zero, divisor: 1 });

  // A group costs two d x d products per EM step, an identity on its own ~2 d^2 operations.
  const bySize = new Map<number, number[]>();
  for (let i = 0; i < identities; i++) {
    const list = bySize.get(counts[i]) ?? [];
    list.push(i);
    bySize.set(counts[i], list);
  }
  const groups: IdentityStatistics['groups'] = [];
  const loose: number[] = [];
  for (const [m, members] of bySize) {
    if (members.length >= d) {
      const groupSums = new Float64Array(members.length * d);
      members.forEach((i, n) => groupSums.set(sums.subarray(i * d, (i + 1) * d), n * d));
      const scatter = covarianceOfRows(groupSums, members.length, d, { mean: zero, divisor: 1 });
      groups.push({ m, size: members.length, scatter });
    } else {
      loose.push(...members);
    }
  }
  const looseSums = new Float64Array(loose.length * d);
  loose.forEach((i, n) => looseSums.set(sums.subarray(i * d, (i + 1) * d), n * d));
  return {
    d,
    identities,
    images: count,
    withinScatter,
    sums: looseSums,
    counts: Int32Array.from(loose, (i) => counts[i]),
    groups,
    meanScatter,
    meanInverseCount: counts.reduce((s, m) => s + 1 / m, 0) / identities,
  };
}

/** S_mu and S_eps in the working space. */
interface Covariances {
  betweenCov: Float64Array;
  withinCov: Float64Array;
}

/**
 * The SQUAREM jump from t0 through t1 = EM(t0) and t2 = EM(t1):
 * t0 - 2 a r + a^2 v with r = t1 - t0, v = t2 - 2 t1 + t0, a = min(-1, -|r| / |v|)
 * (a = -1 gives t2 itself).
 */
function extrapolate(t0: Covariances, t1: Covariances, t2: Covariances, d: number): Covariances {
  const parts = ['betweenCov', 'withinCov'] as const;
  let rr = 0;
  let vv = 0;
  for (const part of parts) {
    for (let k = 0; k < d * d; k++) {
      const r = t1[part][k] - t0[part][k];
      const v = t2[part][k] - 2 * t1[part][k] + t0[part][k];
      rr += r * r;
      vv += v * v;
    }
  }
  const ratio = Math.sqrt(rr / vv);
  const a = Number.isFinite(ratio) && ratio > 1 ? -ratio : -1;
  const jump = (part: (typeof parts)[number]): Float64Array =>
    symmetrise(
      t0[part].map((x0, k) => {
        const r = t1[part][k] - x0;
        const v = t2[part][k] - 2 * t1[part][k] + x0;
        return x0 - 2 * a * r + a * a * v;
      }),
      d,
    );
  return { betweenCov: jump('betweenCov'), withinCov: jump('withinCov') };
}

/** Moment estimates: S_eps from the pooled within-identity scatter, S_mu from the identity means. */
function initialCovariances(stats: IdentityStatistics, ridge: number): Covariances {
  const { d, identities } = stats;
  const withinCov = withRidge(
    stats.withinScatter.map((v) => v / (stats.images - identities)),
    d,
    ridge,
  );
  // E[mean_i mean_i'] = S_mu + S_eps / m_i: remove the noise part, then keep S_mu at least
  // INITIAL_FLOOR x S_eps in every direction (EM cannot leave an exact zero).
  const excess = stats.meanScatter.map((v, k) => v / identities - withinCov[k] * stats.meanInverseCount);
  const { wInvT, lambda } = simultaneouslyDiagonalise(excess, withinCov, d, INITIAL_FLOOR);
  const scaled = Float64Array.from(wInvT, (v, k) => v * lambda[k % d]);
  const betweenCov = symmetrise(matMul(scaled, transpose(wInvT, d, d), d, d, d), d);
  return { withinCov, betweenCov };
}

const INITIAL_FLOOR = 1e-2;

/** S + ridge * (mean diagonal of S) * I; a zero matrix cannot be rescued. */
function withRidge(s: Float64Array, d: number, ridge: number): Float64Array {
  let trace = 0;
  for (let k = 0; k < d; k++) trace += s[k * d + k];
  if (!(trace > 0)) {
    throw new SingularCovarianceError('within-identity covariance is zero: all images of each identity are identical');
  }
  const out = Float64Array.from(s);
  for (let k = 0; k < d; k++) out[k * d + k] += (ridge * trace) / d;
  return out;
}

/**
 * W with W' S_eps W = I and W' S_mu W = diag(lambda): W = L^-T U where S_eps = L L' and
 * U diag(lambda) U' = L^-1 S_mu L^-T. Also returns W^-T = L U, used to map back.
 */
function simultaneouslyDiagonalise(
  betweenCov: Float64Array,
  withinCov: Float64Array,
  d: number,
  floor: number,
): { w: Float64Array; wInvT: Float64Array; lambda: Float64Array; logDetWithin: number } {
  let l: Float64Array;
  try {
    l = cholesky(withinCov, d);
  } catch (e) {
    if (e instanceof SingularMatrixError) {
      throw new SingularCovarianceError(`within-identity covariance is singular (${e.message}); use a ridge or PCA`);
    }
    throw e;
  }
  // M = L^-1 S_mu L^-T, via two triangular solves (S_mu symmetric).
  const half = solveLower(l, Float64Array.from(betweenCov), d, d); // L^-1 S_mu
  const m = symmetrise(solveLower(l, transpose(half, d, d), d, d), d);
  const { values, vectors } = symmetricEigen(m, d);
  const lambda = values.map((v) => Math.max(floor, v));
  const w = solveUpperTransposed(l, Float64Array.from(vectors), d, d);
  const wInvT = matMul(l, vectors, d, d, d);
  let logDetWithin = 0;
  for (let k = 0; k < d; k++) logDetWithin += 2 * Math.log(l[k * d + k]);
  return { w, wInvT, lambda, logDetWithin };
}

/**
 * One EM step (exact E-step: posterior means and covariances), also returning the
 * log-likelihood of the current parameters. In the diagonal basis an identity with m images
 * and summed coordinates z has, per coordinate k,
 *   E[mu_k] = lambda_k z_k / (m lambda_k + 1),  Var[mu_k] = lambda_k / (m lambda_k + 1),
 * and eps_j = x_j - mu. The paper's point-estimate EM drops the posterior variances, which
 * biases the estimates; with them this is the maximum-likelihood EM.
 */
function emStep(
  stats: IdentityStatistics,
  betweenCov: Float64Array,
  withinCov: Float64Array,
): { betweenCov: Float64Array; withinCov: Float64Array; logLikelihood: number } {
  const { d } = stats;
  // S_mu is semidefinite: negative eigenvalues are round-off.
  const { w, wInvT, lambda, logDetWithin } = simultaneouslyDiagonalise(betweenCov, withinCov, d, 0);
  const wt = transpose(w, d, d);

  // u = z / (m lambda + 1): E[mu] = lambda * u and mean - E[mu] = u / m, so
  //   sum E[mu] E[mu]'              = diag(lambda) (sum u u') diag(lambda)
  //   sum m (mean - E[mu])(...)'    = sum u u' / m.
  const uu = new Float64Array(d * d);
  const uuOverM = new Float64Array(d * d);
  const muVariance = new Float64Array(d); // sum_i Var[mu_i]
  const epsVariance = new Float64Array(d); // sum_i m_i Var[mu_i]
  // Per coordinate, the m values of an identity have covariance I + lambda 11' (determinant
  // 1 + m lambda) and quadratic form within-scatter + z^2 / (m (m lambda + 1)).
  let logDeterminants = 0;
  let quadratic = 0;
  const addVariances = (m: number, size: number): void => {
    for (let k = 0; k < d; k++) {
      const v = lambda[k] / (m * lambda[k] + 1);
      muVariance[k] += size * v;
      epsVariance[k] += size * m * v;
      logDeterminants += size * Math.log1p(m * lambda[k]);
    }
  };

  const looseCount = stats.counts.length;
  if (looseCount > 0) {
    const z = matMul(stats.sums, w, looseCount, d, d);
    const u = new Float64Array(looseCount * d);
    const uScaled = new Float64Array(looseCount * d);
    for (let i = 0; i < looseCount; i++) {
      const m = stats.counts[i];
      const root = 1 / Math.sqrt(m);
      for (let k = 0; k < d; k++) {
        const v = z[i * d + k] / (m * lambda[k] + 1);
        u[i * d + k] = v;
        uScaled[i * d + k] = v * root;
        quadratic += (z[i * d + k] * v) / m;
      }
      addVariances(m, 1);
    }
    const zero = new Float64Array(d);
    uu.set(covarianceOfRows(u, looseCount, d, { mean: zero, divisor: 1 }));
    uuOverM.set(covarianceOfRows(uScaled, looseCount, d, { mean: zero, divisor: 1 }));
  }
  for (const { m, size, scatter } of stats.groups) {
    const zz = matMul(matMul(wt, scatter, d, d, d), w, d, d, d); // W' (sum s s') W
    for (let p = 0; p < d; p++) {
      const sp = 1 / (m * lambda[p] + 1);
      quadratic += (zz[p * d + p] * sp) / m;
      for (let q = 0; q < d; q++) {
        const v = zz[p * d + q] * sp * (1 / (m * lambda[q] + 1));
        uu[p * d + q] += v;
        uuOverM[p * d + q] += v / m;
      }
    }
    addVariances(m, size);
  }

  const between = new Float64Array(d * d);
  const within = matMul(matMul(wt, stats.withinScatter, d, d, d), w, d, d, d);
  for (let k = 0; k < d; k++) quadratic += within[k * d + k];
  // |det W| = det(S_eps)^-1/2 is the Jacobian from working to diagonal coordinates.
  const logLikelihood =
    -0.5 * (stats.images * (d * Math.log(2 * Math.PI) + logDetWithin) + logDeterminants + quadratic);
  for (let p = 0; p < d; p++) {
    for (let q = 0; q < d; q++) between[p * d + q] = lambda[p] * uu[p * d + q] * lambda[q];
    between[p * d + p] += muVariance[p];
    for (let q = 0; q < d; q++) within[p * d + q] += uuOverM[p * d + q];
    within[p * d + p] += epsVariance[p];
  }
  for (let k = 0; k < d * d; k++) {
    between[k] /= stats.identities;
    within[k] /= stats.images;
  }
  // Back to the working space: S = W^-T S_diag W^-1.
  const back = (s: Float64Array): Float64Array =>
    symmetrise(matMul(matMul(wInvT, s, d, d, d), transpose(wInvT, d, d), d, d, d), d);
  return { betweenCov: back(between), withinCov: back(within), logLikelihood };
}
