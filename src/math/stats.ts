/**
 * The mean of a sample and its standard error (sample standard deviation / sqrt(n)): LFW's
 * per-fold accuracies, paired fold differences, per-image losses.
 */

export function mean(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

/** NaN for fewer than two values. */
export function standardError(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return Number.NaN;
  const m = mean(values);
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (n - 1) / n);
}
