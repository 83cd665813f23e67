/**
 * Labelled pair lists and what is measured on them: the two pair-file formats (LFW's pairs.txt,
 * and tab-separated `<fileA>\t<fileB>\t<1|0>` lines after an optional `<folds>\t<pairs per fold>`
 * header), cross-validated accuracy with thresholds chosen on the other folds only, the ROC, and
 * thresholds for a target false-accept rate. Scores in, numbers out: nothing here reads images.
 *
 * A pair whose score is NaN "failed" (e.g. a photo without a face): in accuracy it counts as
 * wrong at every threshold; in the ROC and in thresholds at a false-accept rate it is never
 * accepted, as verify() makes no match without a face: a failed same-person pair is a missed
 * match, a failed different-person pair no false accept.
 */
import { MobileIdError } from '../errors.js';
import { mean, standardError } from '../math/stats.js';

/** A pair list (file) is malformed; the message names the file and line. */
export class PairListFormatError extends MobileIdError {}

/** Scores and labels that cannot be evaluated (empty, mismatched, NaN where a score is needed, one class only). */
export class PairScoresError extends MobileIdError {}

/** LFW image key `<Name>/<Name>_<NNNN>`: the image's path under images/ without `.jpg`. */
export type ImageKey = string;

export interface LfwPair {
  /** 0-based fold. */
  fold: number;
  same: boolean;
  a: ImageKey;
  b: ImageKey;
}

export interface LfwPairs {
  folds: number;
  /** Same-person pairs per fold (and as many different-person pairs). */
  pairsPerClass: number;
  /** Fold by fold, each fold's same pairs then its different pairs, as in the file. */
  pairs: LfwPair[];
}

export function imageKey(person: string, index: number): ImageKey {
  return `${person}/${person}_${String(index).padStart(4, '0')}`;
}

const isPositiveInteger = (field: string | undefined): boolean => field !== undefined && /^[0-9]+$/.test(field) && Number(field) > 0;

/** The lines of a text file, trailing blank lines dropped. */
function linesOf(text: string): string[] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  return lines;
}

/**
 * Parse LFW's pairs.txt: a header `<folds> <n>`, then per fold n lines `name i j` (same person)
 * followed by n lines `name1 i name2 j` (different people); image numbers are 1-based.
 */
export function parsePairs(text: string, fileName = 'pairs.txt'): LfwPairs {
  const lines = linesOf(text);
  const header = (lines[0] ?? '').trim().split(/\s+/);
  const folds = Number(header[0]);
  const pairsPerClass = Number(header[1]);
  if (header.length !== 2 || !isPositiveInteger(header[0]) || !isPositiveInteger(header[1])) {
    throw new PairListFormatError(`${fileName} line 1: expected a header '<folds> <pairs per class>', got '${lines[0] ?? ''}'`);
  }
  const expectedLines = 1 + folds * 2 * pairsPerClass;
  if (lines.length !== expectedLines) {
    throw new PairListFormatError(
      `${fileName} has ${lines.length - 1} pair lines; its header '${folds} ${pairsPerClass}' promises ${expectedLines - 1}`,
    );
  }
  const pairs: LfwPair[] = [];
  for (let l = 1; l < lines.length; l++) {
    const fold = Math.floor((l - 1) / (2 * pairsPerClass));
    const same = (l - 1) % (2 * pairsPerClass) < pairsPerClass;
    const fields = lines[l].trim().split(/\s+/);
    const where = `${fileName} line ${l + 1}`;
    const index = (field: string): number => {
      if (!isPositiveInteger(field)) throw new PairListFormatError(`${where}: '${field}' is not an image number`);
      return Number(field);
    };
    if (same) {
      if (fields.length !== 3) {
        throw new PairListFormatError(`${where}: expected a same-person pair 'name i j', got '${lines[l]}'`);
      }
      pairs.push({ fold, same, a: imageKey(fields[0], index(fields[1])), b: imageKey(fields[0], index(fields[2])) });
    } else {
      if (fields.length !== 4) {
        throw new PairListFormatError(`${where}: expected a different-person pair 'name1 i name2 j', got '${lines[l]}'`);
      }
      if (fields[0] === fields[2]) throw new PairListFormatError(`${where}: a different-person pair names one person`);
      pairs.push({ fold, same, a: imageKey(fields[0], index(fields[1])), b: imageKey(fields[2], index(fields[3])) });
    }
  }
  return { folds, pairsPerClass, pairs };
}

export interface LabelledPair {
  /** Photo paths, relative to the images folder. */
  a: string;
  b: string;
  same: boolean;
  /** 0-based fold (0 for every pair of a list without folds). */
  fold: number;
  /** 1-based line of the pair file, for messages. */
  line: number;
}

export interface PairList {
  format: 'lfw' | 'tsv';
  /** 1: no cross-validation. */
  folds: number;
  pairs: LabelledPair[];
}

/**
 * A pair file in either format, told apart by its first pair line: LFW's `name i j` has an
 * image number second, the tab-separated format a file name.
 *   LFW: see parsePairs; photos are `<Name>/<Name>_<NNNN>.jpg`.
 *   tsv: optional header `<folds>\t<pairs per fold>` (the pairs are then listed fold by fold),
 *        then `<fileA>\t<fileB>\t<1|0>` per line (1 = same person); without a header one fold.
 */
export function parsePairList(text: string, fileName: string): PairList {
  const lines = linesOf(text);
  const headerFields = (lines[0] ?? '').trim().split(/\s+/);
  const hasHeader = headerFields.length === 2 && headerFields.every(isPositiveInteger);
  const firstPair = (lines[hasHeader ? 1 : 0] ?? '').trim().split(/\s+/);
  if (hasHeader && isPositiveInteger(firstPair[1])) {
    const lfw = parsePairs(text, fileName);
    const jpg = (key: ImageKey) => `${key}.jpg`;
    return { format: 'lfw', folds: lfw.folds, pairs: lfw.pairs.map((p, i) => ({ a: jpg(p.a), b: jpg(p.b), same: p.same, fold: p.fold, line: i + 2 })) };
  }
  if (lines.length === 0) throw new PairListFormatError(`${fileName} is empty: expected lines '<fileA>\\t<fileB>\\t<1|0>'`);
  const first = hasHeader ? 1 : 0;
  const folds = hasHeader ? Number(headerFields[0]) : 1;
  const perFold = hasHeader ? Number(headerFields[1]) : lines.length;
  if (hasHeader && lines.length - 1 !== folds * perFold) {
    throw new PairListFormatError(`${fileName} has ${lines.length - 1} pair lines; its header '${lines[0].trim()}' promises ${folds} x ${perFold} = ${folds * perFold}`);
  }
  const pairs: LabelledPair[] = [];
  for (let l = first; l < lines.length; l++) {
    const fields = lines[l].split('\t').map((f) => f.trim());
    const where = `${fileName} line ${l + 1}`;
    if (fields.length !== 3 || !fields[0] || !fields[1]) {
      throw new PairListFormatError(`${where}: expected '<fileA>\\t<fileB>\\t<1|0>' (tab-separated), got '${lines[l]}'`);
    }
    if (fields[2] !== '1' && fields[2] !== '0') throw new PairListFormatError(`${where}: the label must be 1 (same person) or 0 (different people), got '${fields[2]}'`);
    pairs.push({ a: fields[0], b: fields[1], same: fields[2] === '1', fold: Math.floor((l - first) / perFold), line: l + 1 });
  }
  for (let fold = 0; fold < folds; fold++) {
    const inFold = pairs.filter((p) => p.fold === fold);
    if (!inFold.some((p) => p.same) || !inFold.some((p) => !p.same)) {
      throw new PairListFormatError(`${fileName}: fold ${fold + 1} needs both same-person (1) and different-person (0) pairs`);
    }
  }
  return { format: 'tsv', folds, pairs };
}

function sortedOrder(scores: ArrayLike<number>): number[] {
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i])) throw new PairScoresError(`score ${i} is NaN`);
  }
  // comparisons, not differences: scores may be +-Infinity
  return Array.from({ length: scores.length }, (_, i) => i).sort((x, y) => (scores[x] < scores[y] ? -1 : scores[x] > scores[y] ? 1 : 0));
}

/**
 * The threshold maximising accuracy of "same iff score > threshold": a midpoint between
 * neighbouring distinct scores (or 1 beyond the extremes). Ties go to the lowest threshold.
 */
export function bestThreshold(
  scores: ArrayLike<number>,
  same: ArrayLike<boolean>,
): { threshold: number; accuracy: number } {
  const n = scores.length;
  if (n === 0 || same.length !== n) throw new PairScoresError(`need matching non-empty scores and labels (${n}, ${same.length})`);
  const order = sortedOrder(scores);
  let sameCount = 0;
  for (let i = 0; i < n; i++) if (same[i]) sameCount++;
  // Below every score all pairs are called "same".
  let correct = sameCount;
  let best = correct;
  let threshold = scores[order[0]] - 1;
  for (let i = 0; i < n; ) {
    const s = scores[order[i]];
    // Move the threshold past every pair scoring exactly s.
    for (; i < n && scores[order[i]] === s; i++) correct += same[order[i]] ? -1 : 1;
    if (correct > best) {
      best = correct;
      threshold = i < n ? (s + scores[order[i]]) / 2 : s + 1;
    }
  }
  return { threshold, accuracy: best / n };
}

/** ROC points (false positive rate, true positive rate) and its area (ties count half). */
export function rocCurve(
  scores: ArrayLike<number>,
  same: ArrayLike<boolean>,
): { auc: number; roc: [number, number][] } {
  const n = scores.length;
  let positives = 0;
  for (let i = 0; i < n; i++) if (same[i]) positives++;
  const negatives = n - positives;
  if (positives === 0 || negatives === 0 || same.length !== n) {
    throw new PairScoresError('ROC needs both same and different pairs');
  }
  // Descending threshold: one point per group of equal scores.
  const order = sortedOrder(scores).reverse();
  const roc: [number, number][] = [[0, 0]];
  let tp = 0;
  let fp = 0;
  let auc = 0;
  for (let i = 0; i < n; ) {
    const s = scores[order[i]];
    const fpBefore = fp;
    const tpBefore = tp;
    for (; i < n && scores[order[i]] === s; i++) {
      if (same[order[i]]) tp++;
      else fp++;
    }
    auc += ((fp - fpBefore) * (tp + tpBefore)) / 2;
    roc.push([fp / negatives, tp / positives]);
  }
  return { auc: auc / (positives * negatives), roc };
}

/** The highest true-positive rate of the ROC at a false-positive rate of at most `far` (0 if none). */
export function tarAtFar(roc: ReadonlyArray<readonly [number, number]>, far: number): number {
  return Math.max(0, ...roc.filter(([fpr]) => fpr <= far).map(([, tpr]) => tpr));
}

/** The smallest double above x (x itself for NaN and +Infinity). */
function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  const bits = new BigInt64Array(Float64Array.of(x).buffer);
  bits[0] += x > 0 ? 1n : -1n;
  return new Float64Array(bits.buffer)[0];
}

/**
 * The threshold that lets through the fraction `far` of the different-person scores: the
 * smallest number above the floor(far * n)-th highest (0-based), so that at most that many score
 * above it, whether "same" is read as score > threshold or as score >= threshold (verify()'s).
 */
export function thresholdAtFar(differentScores: ArrayLike<number>, far: number): number {
  if (differentScores.length === 0) throw new PairScoresError('a threshold at a false-accept rate needs different-person scores');
  if (!(far >= 0 && far < 1)) throw new PairScoresError(`the false-accept rate must be in [0, 1), got ${far}`);
  const order = sortedOrder(differentScores).reverse();
  return nextUp(differentScores[order[Math.floor(far * differentScores.length)]]);
}

/** Pair scores with failures (NaN) as -Infinity: below every threshold, never accepted. */
export function failedAsRejected(scores: ArrayLike<number>): Float64Array {
  return Float64Array.from(scores, (s) => (Number.isNaN(s) ? -Infinity : s));
}

export interface FoldResult {
  /** Accuracy on the fold's pairs (failed pairs wrong). */
  accuracy: number;
  /** Chosen on the other folds' pairs (on all pairs when there is one fold). */
  threshold: number;
}

export interface CrossValidation {
  folds: FoldResult[];
  accuracyMean: number;
  /** Sample standard deviation of the fold accuracies / sqrt(folds); null for one fold. */
  accuracySe: number | null;
}

/**
 * Accuracy of "same iff score > threshold", each fold tested with the best-accuracy threshold of
 * the other folds (one fold: its own, so the accuracy is not held out). NaN scores: failed pairs.
 */
export function crossValidate(scores: ArrayLike<number>, same: ArrayLike<boolean>, fold: ArrayLike<number>, folds: number): CrossValidation {
  const n = scores.length;
  if (n === 0 || same.length !== n || fold.length !== n) throw new PairScoresError(`need matching non-empty scores, labels and folds (${n}, ${same.length}, ${fold.length})`);
  const results: FoldResult[] = [];
  for (let f = 0; f < folds; f++) {
    const train: number[] = [];
    for (let i = 0; i < n; i++) if ((folds === 1 || fold[i] !== f) && !Number.isNaN(scores[i])) train.push(i);
    if (train.length === 0) throw new PairScoresError(`no scored pairs outside fold ${f + 1} to choose its threshold on`);
    const { threshold } = bestThreshold(train.map((i) => scores[i]), train.map((i) => same[i]));
    let correct = 0;
    let tested = 0;
    for (let i = 0; i < n; i++) {
      if (fold[i] !== f) continue;
      tested++;
      if (!Number.isNaN(scores[i]) && scores[i] > threshold === same[i]) correct++;
    }
    if (tested === 0) throw new PairScoresError(`fold ${f + 1} has no pairs`);
    results.push({ accuracy: correct / tested, threshold });
  }
  const accuracies = results.map((r) => r.accuracy);
  return { folds: results, accuracyMean: mean(accuracies), accuracySe: folds > 1 ? standardError(accuracies) : null };
}
