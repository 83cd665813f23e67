/**
 * Learning-rate schedules: linear warm-up from ~0 to the base rate, then either a cosine decay
 * to `minRatio` x base at the last step, or a step decay (x `factor` every `every` steps).
 */
import { TrainingError } from './errors.js';

export type ScheduleKind = 'cosine' | 'step';

export interface ScheduleOptions {
  kind: ScheduleKind;
  baseRate: number;
  totalSteps: number;
  warmupSteps: number;
  /** cosine: final rate as a fraction of the base rate. Default 0.01. */
  minRatio?: number;
  /** step: decay period in steps (default totalSteps / 3) and factor (default 0.1). */
  every?: number;
  factor?: number;
}

export function checkSchedule(options: ScheduleOptions): void {
  if (!(options.baseRate > 0) || !Number.isFinite(options.baseRate)) throw new TrainingError(`learning rate must be > 0, got ${options.baseRate}`);
  if (!Number.isInteger(options.totalSteps) || options.totalSteps < 1) throw new TrainingError(`total steps must be a positive integer, got ${options.totalSteps}`);
  if (!Number.isInteger(options.warmupSteps) || options.warmupSteps < 0) throw new TrainingError(`warm-up steps must be a non-negative integer, got ${options.warmupSteps}`);
}

/** Learning rate of update number `step` (0-based). */
export function learningRate(step: number, options: ScheduleOptions): number {
  const { baseRate, totalSteps, warmupSteps } = options;
  if (step < warmupSteps) return (baseRate * (step + 1)) / (warmupSteps + 1);
  if (options.kind === 'step') {
    const every = options.every ?? Math.max(1, Math.ceil(totalSteps / 3));
    return baseRate * (options.factor ?? 0.1) ** Math.floor((step - warmupSteps) / every);
  }
  const minRatio = options.minRatio ?? 0.01;
  const span = Math.max(1, totalSteps - warmupSteps - 1);
  const progress = Math.min(1, (step - warmupSteps) / span);
  return baseRate * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
