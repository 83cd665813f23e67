/**
 * Optimisers over the flat parameter vector (src/tools/train/parameters.ts), in place, in f32.
 *  - adam: AdamW (Loshchilov & Hutter): Adam moments with bias correction, weight decay
 *    decoupled from the gradient: w -= lr * (m^ / (sqrt(v^) + eps) + decay * w).
 *  - sgd:  heavy-ball momentum with L2 decay in the gradient (Caffe's SGD, the paper's
 *    solver): b = momentum * b + g + decay * w; w -= lr * b.
 * Decay applies where `decayMask` is 1 (weights), not to biases. `rateScale` multiplies the learning
 * rate (and so the decoupled decay) weight by weight: layers added by growing a run learn faster.
 */
import { TrainingError } from './errors.js';

export type OptimizerKind = 'adam' | 'sgd';

export interface OptimizerOptions {
  kind: OptimizerKind;
  weightDecay: number;
  /** 1 where weight decay applies (ParameterLayout.decayMask()). */
  decayMask: Uint8Array;
  /** Per-weight multiplier of the learning rate (absent: 1 everywhere). */
  rateScale?: Float32Array;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  momentum?: number;
}

/** What a checkpoint must keep to continue exactly. */
export interface OptimizerState {
  kind: OptimizerKind;
  step: number;
  /** adam: first moment; sgd: momentum buffer. */
  first: Float32Array;
  /** adam: second moment; sgd: empty. */
  second: Float32Array;
}

export class Optimizer {
  private step = 0;
  private readonly first: Float32Array;
  private readonly second: Float32Array;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly momentum: number;

  constructor(readonly size: number, private readonly options: OptimizerOptions) {
    if (options.decayMask.length !== size) throw new TrainingError(`decay mask has ${options.decayMask.length} entries, expected ${size}`);
    if (options.rateScale && (options.rateScale.length !== size || options.rateScale.some((r) => !(r >= 0) || !Number.isFinite(r)))) {
      throw new TrainingError(`rate scale must hold ${size} finite values >= 0`);
    }
    if (!(options.weightDecay >= 0)) throw new TrainingError(`weight decay must be >= 0, got ${options.weightDecay}`);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.momentum = options.momentum ?? 0.9;
    this.first = new Float32Array(size);
    this.second = new Float32Array(options.kind === 'adam' ? size : 0);
  }

  /** Number of updates applied so far. */
  get steps(): number {
    return this.step;
  }

  /** One update of `weights` with the (already batch-averaged) `gradient` at learning rate lr. */
  update(weights: Float32Array, gradient: Float32Array, lr: number): void {
    if (weights.length !== this.size || gradient.length !== this.size) {
      throw new TrainingError(`weights (${weights.length}) and gradient (${gradient.length}) must both have ${this.size} values`);
    }
    if (!Number.isFinite(lr) || lr < 0) throw new TrainingError(`learning rate must be finite and >= 0, got ${lr}`);
    this.step++;
    const { weightDecay: decay, decayMask: mask, rateScale: scale } = this.options;
    const m = this.first;
    if (this.options.kind === 'sgd') {
      const mu = this.momentum;
      for (let i = 0; i < this.size; i++) {
        m[i] = mu * m[i] + gradient[i] + (mask[i] ? decay * weights[i] : 0);
        weights[i] -= (scale ? lr * scale[i] : lr) * m[i];
      }
      return;
    }
    const v = this.second;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const eps = this.epsilon;
    const correction1 = 1 - b1 ** this.step;
    const correction2 = Math.sqrt(1 - b2 ** this.step);
    const stepSize = lr * (correction2 / correction1); // folds both bias corrections into the step
    const epsHat = eps * correction2;
    for (let i = 0; i < this.size; i++) {
      const g = gradient[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const r = scale ? scale[i] : 1;
      weights[i] -= r * (stepSize * m[i] / (Math.sqrt(v[i]) + epsHat) + (mask[i] ? lr * decay * weights[i] : 0));
    }
  }

  state(): OptimizerState {
    return { kind: this.options.kind, step: this.step, first: this.first.slice(), second: this.second.slice() };
  }

  restore(state: OptimizerState): void {
    if (state.kind !== this.options.kind || state.first.length !== this.first.length || state.second.length !== this.second.length) {
      throw new TrainingError(`optimiser state (${state.kind}, ${state.first.length} values) does not match this ${this.options.kind} optimiser of ${this.size}`);
    }
    this.step = state.step;
    this.first.set(state.first);
    this.second.set(state.second);
  }
}
