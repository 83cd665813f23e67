/**
 * Paired comparison of two eval-lfw reports over the same folds: two students scored on the same
 * pairs share each fold's hard pairs, so the fold-by-fold differences vary far less than either
 * report's accuracies, and their standard error says whether a change of a few tenths is real
 * (a paired t statistic; with 10 folds |t| > 2.26 is the two-sided 5% level).
 */
import { readFileSync } from 'node:fs';
import { mean as meanOf, standardError } from '../math/stats.js';
import { LfwDataError } from './lfw.js';

/** The fields of an eval-lfw JSON report this comparison reads. */
export interface FoldReport {
  model: string;
  verifier: string;
  /** Accuracy on each held-out fold. */
  folds: number[];
}

export interface PairedComparison {
  /** Fold by fold: other - base. */
  differences: number[];
  mean: number;
  /** Sample standard deviation of the differences / sqrt(folds). */
  se: number;
  /** mean / se (Infinity or NaN where every difference is the same). */
  t: number;
  /** Folds where `other` is more accurate, less accurate, level. */
  better: number;
  worse: number;
  level: number;
}

/** The per-fold accuracies of an eval-lfw report file; LfwDataError where it is missing, not JSON or has none. */
export function readFoldReport(file: string): FoldReport {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new LfwDataError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const r = json as Partial<FoldReport> | null;
  const valid = r !== null && typeof r === 'object' && Array.isArray(r.folds) && r.folds.length >= 2
    && r.folds.every((a) => typeof a === 'number' && a >= 0 && a <= 1);
  if (!valid) throw new LfwDataError(`${file} is not an eval-lfw report with per-fold accuracies`);
  return { model: String(r.model), verifier: String(r.verifier), folds: r.folds! };
}

export function comparePaired(base: FoldReport, other: FoldReport): PairedComparison {
  if (base.folds.length !== other.folds.length) {
    throw new LfwDataError(`the reports have ${base.folds.length} and ${other.folds.length} folds: a paired comparison needs the same folds`);
  }
  const differences = other.folds.map((a, i) => a - base.folds[i]);
  const mean = meanOf(differences);
  const se = standardError(differences);
  // accuracies are counts over the same pairs: differences below one pair in 10^6 are ties
  const tie = 1e-9;
  return {
    differences, mean, se, t: mean / se,
    better: differences.filter((d) => d > tie).length,
    worse: differences.filter((d) => d < -tie).length,
    level: differences.filter((d) => Math.abs(d) <= tie).length,
  };
}
