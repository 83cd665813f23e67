/**
 * The training loop over a BatchComputer: fill a batch, compute the summed gradient (on the
 * workers), average, update the weights with the optimiser at the scheduled learning rate.
 * The next batch is filled while the workers compute the current one (two slots). With
 * `clipNorm` > 0 the averaged gradient is rescaled to at most that global L2 norm, so one
 * unlucky batch early in a long run cannot throw the weights far. Batch-norm running statistics
 * are not trained: the batch statistics that arrive in their gradient slots are blended into
 * them (batch-norm.ts).
 */
import { BATCH_NORM_MOMENTUM } from './batch-norm.js';
import { TrainingError } from './errors.js';
import type { Optimizer } from './optimizer.js';
import type { BatchComputer, BatchSlot } from './parallel.js';
import { learningRate, type ScheduleOptions } from './schedule.js';

/** Writes batch number `index` into `slot` and returns how many images it holds (>= 1). */
export type BatchFiller = (slot: BatchSlot, index: number) => number;

export interface StepReport {
  /** Optimiser updates done so far (this one included). */
  step: number;
  /** Mean loss per image of this batch (before the update). */
  loss: number;
  images: number;
  learningRate: number;
  /** Global L2 norm of the averaged gradient, before clipping. */
  gradientNorm: number;
}

export class Trainer {
  private readonly gradient: Float32Array;

  constructor(
    readonly computer: BatchComputer,
    readonly optimizer: Optimizer,
    readonly schedule: ScheduleOptions,
    readonly clipNorm = 0,
  ) {
    if (!(clipNorm >= 0)) throw new TrainingError(`gradient clipping norm must be >= 0, got ${clipNorm}`);
    if (optimizer.size !== computer.layout.size) throw new TrainingError('optimiser and network have different parameter counts');
    this.gradient = new Float32Array(computer.layout.size);
  }

  /** Runs `batches` updates; `onStep` sees each one. */
  async train(batches: number, fill: BatchFiller, onStep?: (report: StepReport) => void): Promise<void> {
    const { computer, optimizer } = this;
    let count = batches > 0 ? this.filled(fill, 0, 0) : 0;
    for (let i = 0; i < batches; i++) {
      const slot = i % 2;
      const pending = computer.gradient(slot, count, this.gradient);
      const next = i + 1 < batches ? this.filled(fill, 1 - slot, i + 1) : 0;
      const loss = (await pending) / count;
      if (!Number.isFinite(loss)) throw new TrainingError(`loss became ${loss} at step ${optimizer.steps + 1}; lower the learning rate`);
      this.updateStatistics(count);
      let squares = 0;
      for (let j = 0; j < this.gradient.length; j++) squares += this.gradient[j] * this.gradient[j];
      const gradientNorm = Math.sqrt(squares) / count;
      const scale = (this.clipNorm > 0 && gradientNorm > this.clipNorm ? this.clipNorm / gradientNorm : 1) / count;
      for (let j = 0; j < this.gradient.length; j++) this.gradient[j] *= scale;
      const rate = learningRate(optimizer.steps, this.schedule);
      optimizer.update(computer.weights, this.gradient, rate);
      computer.weightsChanged();
      onStep?.({ step: optimizer.steps, loss, images: count, learningRate: rate, gradientNorm });
      count = next;
    }
  }

  /** Running averages += momentum * (batch statistic - running average); their gradient slots are then zeroed. */
  private updateStatistics(count: number): void {
    const weights = this.computer.weights;
    for (const { offset, length } of this.computer.layout.statistics) {
      for (let j = offset; j < offset + length; j++) {
        weights[j] += BATCH_NORM_MOMENTUM * (this.gradient[j] / count - weights[j]);
        this.gradient[j] = 0;
      }
    }
  }

  /** Mean loss per image over `batches` batches (forward only, weights unchanged). */
  async evaluate(batches: number, fill: BatchFiller): Promise<{ loss: number; images: number }> {
    let total = 0;
    let images = 0;
    let count = batches > 0 ? this.filled(fill, 0, 0) : 0;
    for (let i = 0; i < batches; i++) {
      const slot = i % 2;
      const pending = this.computer.loss(slot, count);
      const next = i + 1 < batches ? this.filled(fill, 1 - slot, i + 1) : 0;
      total += await pending;
      images += count;
      count = next;
    }
    return { loss: images ? total / images : NaN, images };
  }

  private filled(fill: BatchFiller, slot: number, index: number): number {
    const count = fill(this.computer.slots[slot], index);
    if (!Number.isInteger(count) || count < 1 || count > this.computer.maxBatch) {
      throw new TrainingError(`batch filler returned ${count} images for batch ${index}; expected 1..${this.computer.maxBatch}`);
    }
    return count;
  }
}
