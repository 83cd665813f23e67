/**
 * Face verifiers behind one interface: a verifier is fitted on labelled feature rows (a no-op
 * for the metric ones) and scores a pair, higher meaning more likely the same person.
 * Features arrive already combined (e.g. face + mirror): that is the caller's business.
 */
import { FeatureDimensionError, NotFittedError, VerifierInputError } from './errors.js';
import { JointBayesianModel, fitJointBayesian, type JointBayesianFit, type JointBayesianOptions } from './joint-bayesian.js';

export interface Verifier {
  readonly name: VerifierKind;
  /** Fit on count labelled rows of dim values (labels: any integer per identity). */
  fit(rows: Float32Array, count: number, dim: number, labels: Int32Array): void;
  /** Map a feature to the form compare() takes; do it once per face when scoring many pairs. */
  embed(x: Float32Array): Float32Array;
  /** Score two embedded features: higher = more likely the same person. */
  compare(e1: Float32Array, e2: Float32Array): number;
  /** compare(embed(a), embed(b)). */
  score(a: Float32Array, b: Float32Array): number;
}

export type VerifierKind = 'cosine' | 'euclidean' | 'jb';

/** Shared by the metric verifiers: fit only records (and checks) the feature dimension. */
abstract class MetricVerifier implements Verifier {
  abstract readonly name: VerifierKind;
  private dim: number | undefined;

  fit(rows: Float32Array, count: number, dim: number, labels: Int32Array): void {
    if (rows.length !== count * dim || labels.length !== count) {
      throw new FeatureDimensionError(
        `fit got ${rows.length} values and ${labels.length} labels for ${count} rows of ${dim}`,
      );
    }
    this.dim = dim;
  }

  embed(x: Float32Array): Float32Array {
    if (this.dim !== undefined && x.length !== this.dim) {
      throw new FeatureDimensionError(`feature has ${x.length} values, the verifier was fitted on ${this.dim}`);
    }
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) throw new VerifierInputError(`feature value ${i} is not finite`);
    }
    return this.transform(x);
  }

  compare(e1: Float32Array, e2: Float32Array): number {
    if (e1.length !== e2.length) {
      throw new FeatureDimensionError(`cannot compare features of ${e1.length} and ${e2.length} values`);
    }
    return this.similarity(e1, e2);
  }

  score(a: Float32Array, b: Float32Array): number {
    return this.compare(this.embed(a), this.embed(b));
  }

  protected abstract transform(x: Float32Array): Float32Array;
  protected abstract similarity(e1: Float32Array, e2: Float32Array): number;
}

/** Cosine similarity. A zero feature has no direction: its similarity to anything is 0. */
export class CosineVerifier extends MetricVerifier {
  readonly name = 'cosine' as const;

  protected transform(x: Float32Array): Float32Array {
    let norm = 0;
    for (let i = 0; i < x.length; i++) norm += x[i] * x[i];
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    const unit = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) unit[i] = x[i] * scale;
    return unit;
  }

  protected similarity(e1: Float32Array, e2: Float32Array): number {
    let dot = 0;
    for (let i = 0; i < e1.length; i++) dot += e1[i] * e2[i];
    return dot;
  }
}

/** Negative Euclidean distance. */
export class EuclideanVerifier extends MetricVerifier {
  readonly name = 'euclidean' as const;

  protected transform(x: Float32Array): Float32Array {
    return x;
  }

  protected similarity(e1: Float32Array, e2: Float32Array): number {
    let s = 0;
    for (let i = 0; i < e1.length; i++) s += (e1[i] - e2[i]) ** 2;
    return -Math.sqrt(s);
  }
}

/** Joint Bayesian (see joint-bayesian.ts); fitted by EM, or built from a saved model. */
export class JointBayesianVerifier implements Verifier {
  readonly name = 'jb' as const;
  private fitted: JointBayesianModel | undefined;
  /** Diagnostics of the last fit (covariances, EM iterations). */
  lastFit: JointBayesianFit | undefined;

  constructor(private readonly options: JointBayesianOptions = {}) {}

  static fromModel(model: JointBayesianModel): JointBayesianVerifier {
    const v = new JointBayesianVerifier();
    v.fitted = model;
    return v;
  }

  get model(): JointBayesianModel {
    if (!this.fitted) throw new NotFittedError('Joint Bayesian verifier used before fit()');
    return this.fitted;
  }

  fit(rows: Float32Array, count: number, dim: number, labels: Int32Array): void {
    this.lastFit = fitJointBayesian(rows, count, dim, labels, this.options);
    this.fitted = this.lastFit.model;
  }

  embed(x: Float32Array): Float32Array {
    return this.model.embed(x);
  }

  compare(e1: Float32Array, e2: Float32Array): number {
    return this.model.compare(e1, e2);
  }

  score(a: Float32Array, b: Float32Array): number {
    return this.model.score(a, b);
  }
}

export function createVerifier(kind: 'jb', opts?: JointBayesianOptions): JointBayesianVerifier;
export function createVerifier(kind: VerifierKind, opts?: JointBayesianOptions): Verifier;
/** A fresh, unfitted verifier; `opts` apply to 'jb' only. */
export function createVerifier(kind: VerifierKind, opts: JointBayesianOptions = {}): Verifier {
  switch (kind) {
    case 'cosine':
      return new CosineVerifier();
    case 'euclidean':
      return new EuclideanVerifier();
    case 'jb':
      return new JointBayesianVerifier(opts);
    default:
      throw new VerifierInputError(`unknown verifier '${String(kind)}' (expected cosine, euclidean or jb)`);
  }
}
