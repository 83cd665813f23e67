/**
 * LFW View 2 evaluation ("unrestricted, labeled outside data"): for each of the 10
 * person-disjoint folds, fit the verifier on every image of the people in the other folds'
 * pairs, choose the threshold on the other folds' pairs, and test on the held-out fold.
 * Nothing about a test fold — its people, images or pairs — reaches fitting or thresholding.
 */
import { MobileIdError } from '../errors.js';
import type { Verifier } from '../verify/verifier.js';

/** pairs.txt is malformed. */
export class LfwFormatError extends MobileIdError {
  override name = 'LfwFormatError';
}

/** The pairs, image lists and features disagree (missing person or image, feature sizes). */
export class LfwDataError extends MobileIdError {
  override name = 'LfwDataError';
}

/** Image key `<Name>/<Name>_<NNNN>`: the image's path under images/ without `.jpg`. */
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

export function personOfKey(key: ImageKey): string {
  return key.slice(0, key.indexOf('/'));
}

/** The JPEG file of an image key under an LFW images folder. */
export function lfwImagePath(imagesDir: string, key: ImageKey): string {
  return `${imagesDir}/${key}.jpg`;
}

/**
 * Parse pairs.txt: a header `<folds> <n>`, then per fold n lines `name i j` (same person)
 * followed by n lines `name1 i name2 j` (different people); image numbers are 1-based.
 */
export function parsePairs(text: string): LfwPairs {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  const header = (lines[0] ?? '').trim().split(/\s+/);
  const folds = Number(header[0]);
  const pairsPerClass = Number(header[1]);
  if (header.length !== 2 || !isPositiveInteger(header[0]) || !isPositiveInteger(header[1])) {
    throw new LfwFormatError(`pairs.txt line 1: expected a header '<folds> <pairs per class>', got '${lines[0] ?? ''}'`);
  }
  const expectedLines = 1 + folds * 2 * pairsPerClass;
  if (lines.length !== expectedLines) {
    throw new LfwFormatError(
      `pairs.txt has ${lines.length - 1} pair lines; its header '${folds} ${pairsPerClass}' promises ${expectedLines - 1}`,
    );
  }
  const pairs: LfwPair[] = [];
  for (let l = 1; l < lines.length; l++) {
    const fold = Math.floor((l - 1) / (2 * pairsPerClass));
    const same = (l - 1) % (2 * pairsPerClass) < pairsPerClass;
    const fields = lines[l].trim().split(/\s+/);
    const where = `pairs.txt line ${l + 1}`;
    const index = (field: string): number => {
      if (!isPositiveInteger(field)) throw new LfwFormatError(`${where}: '${field}' is not an image number`);
      return Number(field);
    };
    if (same) {
      if (fields.length !== 3) {
        throw new LfwFormatError(`${where}: expected a same-person pair 'name i j', got '${lines[l]}'`);
      }
      pairs.push({ fold, same, a: imageKey(fields[0], index(fields[1])), b: imageKey(fields[0], index(fields[2])) });
    } else {
      if (fields.length !== 4) {
        throw new LfwFormatError(`${where}: expected a different-person pair 'name1 i name2 j', got '${lines[l]}'`);
      }
      if (fields[0] === fields[2]) throw new LfwFormatError(`${where}: a different-person pair names one person`);
      pairs.push({ fold, same, a: imageKey(fields[0], index(fields[1])), b: imageKey(fields[2], index(fields[3])) });
    }
  }
  return { folds, pairsPerClass, pairs };
}

function isPositiveInteger(field: string | undefined): boolean {
  return field !== undefined && /^[0-9]+$/.test(field) && Number(field) > 0;
}

/** Person -> image keys (sorted) from an LFW images folder (`<Name>/<Name>_NNNN.jpg`). Node only. */
export async function readLfwImageIndex(imagesDir: string): Promise<Map<string, ImageKey[]>> {
  const { readdir } = await import('node:fs/promises');
  const index = new Map<string, ImageKey[]>();
  const people = (await readdir(imagesDir, { withFileTypes: true })).filter((e) => e.isDirectory());
  for (const person of people.map((e) => e.name).sort()) {
    const keys = (await readdir(`${imagesDir}/${person}`))
      .filter((f) => f.startsWith(`${person}_`) && f.endsWith('.jpg'))
      .sort()
      .map((f) => `${person}/${f.slice(0, -4)}`);
    if (keys.length > 0) index.set(person, keys);
  }
  return index;
}

export type LfwProgress =
  | { stage: 'features'; done: number; total: number }
  | { stage: 'fold'; fold: number; folds: number; accuracy: number; threshold: number };

export interface LfwEvaluationOptions {
  pairs: LfwPairs;
  /** Every image of every person named in the pairs (more people are ignored). */
  imagesByPerson: Map<string, ImageKey[]>;
  /** The (already combined, e.g. with the mirror) feature of an image; called once per key. */
  feature: (key: ImageKey) => Float32Array | Promise<Float32Array>;
  /** A fresh, unfitted verifier; one is made per fold. */
  verifier: () => Verifier;
  /**
   * Identity-labelled outside data to fit the verifier on instead of the 9 training folds
   * ("unrestricted, labeled outside data"); the threshold is still chosen on the training folds.
   */
  outsideData?: { imagesByPerson: Map<string, ImageKey[]>; feature: LfwEvaluationOptions['feature'] };
  onProgress?: (progress: LfwProgress) => void;
}

export interface LfwEvaluation {
  /** Accuracy on each held-out fold. */
  folds: number[];
  accuracyMean: number;
  /** Sample standard deviation of the fold accuracies / sqrt(folds). */
  accuracySe: number;
  /** Area under the ROC of the held-out scores of all pairs. */
  auc: number;
  /** [false positive rate, true positive rate] points from (0,0) to (1,1). */
  roc: [number, number][];
  /** Threshold used on each fold (chosen on the other folds; same iff score > threshold). */
  thresholds: number[];
  /** Held-out score of each pair, in `pairs.pairs` order. */
  scores: Float64Array;
}

export async function evaluateLfw(opts: LfwEvaluationOptions): Promise<LfwEvaluation> {
  const { pairs, imagesByPerson, onProgress } = opts;
  if (pairs.folds < 2) throw new LfwDataError(`cross-validation needs at least 2 folds, got ${pairs.folds}`);

  // People of each fold, and every image (key) the evaluation will need.
  const peopleOfFold: Set<string>[] = Array.from({ length: pairs.folds }, () => new Set());
  for (const p of pairs.pairs) {
    for (const key of [p.a, p.b]) {
      const person = personOfKey(key);
      const images = imagesByPerson.get(person);
      if (!images) throw new LfwDataError(`no images listed for ${person}`);
      if (!images.includes(key)) throw new LfwDataError(`pair image ${key} is not among ${person}'s images`);
      peopleOfFold[p.fold].add(person);
    }
  }
  const foldOf = new Map<string, number>();
  peopleOfFold.forEach((s, fold) => {
    for (const person of s) {
      const other = foldOf.get(person);
      if (other !== undefined) {
        throw new LfwDataError(`${person} appears in folds ${other + 1} and ${fold + 1}: folds must be person-disjoint`);
      }
      foldOf.set(person, fold);
    }
  });
  const people = [...foldOf.keys()].sort();
  const keys = people.flatMap((person) => imagesByPerson.get(person)!);
  const features = await extractFeatures(keys, opts.feature, onProgress);
  const pairKeys = [...new Set(pairs.pairs.flatMap((p) => [p.a, p.b]))];
  const outside = opts.outsideData;
  const outsidePeople = outside ? [...outside.imagesByPerson.keys()].sort() : [];
  const outsideFeatures = outside
    ? await extractFeatures(outsidePeople.flatMap((p) => outside.imagesByPerson.get(p)!), outside.feature, undefined)
    : null;

  const scores = new Float64Array(pairs.pairs.length);
  const foldAccuracy: number[] = [];
  const thresholds: number[] = [];
  for (let fold = 0; fold < pairs.folds; fold++) {
    const trainPeople = people.filter((p) => foldOf.get(p) !== fold);
    const verifier = opts.verifier();
    if (outside) fitOnPeople(verifier, outsidePeople, outside.imagesByPerson, outsideFeatures!);
    else fitOnPeople(verifier, trainPeople, imagesByPerson, features);

    const embedded = new Map<ImageKey, Float32Array>();
    for (const key of pairKeys) embedded.set(key, verifier.embed(features.of(key)));
    const foldScores = pairs.pairs.map((p) => verifier.compare(embedded.get(p.a)!, embedded.get(p.b)!));

    const train = pairs.pairs.flatMap((p, i) => (p.fold === fold ? [] : [i]));
    const { threshold } = bestThreshold(
      train.map((i) => foldScores[i]),
      train.map((i) => pairs.pairs[i].same),
    );
    let correct = 0;
    let tested = 0;
    pairs.pairs.forEach((p, i) => {
      if (p.fold !== fold) return;
      scores[i] = foldScores[i];
      if (foldScores[i] > threshold === p.same) correct++;
      tested++;
    });
    const accuracy = correct / tested;
    foldAccuracy.push(accuracy);
    thresholds.push(threshold);
    onProgress?.({ stage: 'fold', fold, folds: pairs.folds, accuracy, threshold });
  }

  const n = foldAccuracy.length;
  const accuracyMean = foldAccuracy.reduce((s, a) => s + a, 0) / n;
  const variance = foldAccuracy.reduce((s, a) => s + (a - accuracyMean) ** 2, 0) / (n - 1);
  const { auc, roc } = rocCurve(scores, pairs.pairs.map((p) => p.same));
  return {
    folds: foldAccuracy,
    accuracyMean,
    accuracySe: Math.sqrt(variance / n),
    auc,
    roc,
    thresholds,
    scores,
  };
}

interface FeatureTable {
  dim: number;
  of(key: ImageKey): Float32Array;
}

async function extractFeatures(
  keys: ImageKey[],
  feature: LfwEvaluationOptions['feature'],
  onProgress: LfwEvaluationOptions['onProgress'],
): Promise<FeatureTable> {
  const row = new Map<ImageKey, number>();
  let table = new Float32Array(0);
  let dim = 0;
  for (let i = 0; i < keys.length; i++) {
    const f = await feature(keys[i]);
    if (i === 0) {
      dim = f.length;
      if (dim === 0) throw new LfwDataError(`feature of ${keys[i]} is empty`);
      table = new Float32Array(keys.length * dim);
    } else if (f.length !== dim) {
      throw new LfwDataError(`feature of ${keys[i]} has ${f.length} values, earlier ones ${dim}`);
    }
    table.set(f, i * dim);
    row.set(keys[i], i);
    if (onProgress && (i % 256 === 255 || i === keys.length - 1)) {
      onProgress({ stage: 'features', done: i + 1, total: keys.length });
    }
  }
  return {
    dim,
    of: (key) => table.subarray(row.get(key)! * dim, (row.get(key)! + 1) * dim),
  };
}

/** Fit on every image of the given people, labelled by person. */
function fitOnPeople(
  verifier: Verifier,
  people: string[],
  imagesByPerson: Map<string, ImageKey[]>,
  features: FeatureTable,
): void {
  const keys = people.flatMap((person) => imagesByPerson.get(person)!);
  const rows = new Float32Array(keys.length * features.dim);
  const labels = new Int32Array(keys.length);
  let r = 0;
  people.forEach((person, label) => {
    for (const key of imagesByPerson.get(person)!) {
      rows.set(features.of(key), r * features.dim);
      labels[r++] = label;
    }
  });
  verifier.fit(rows, keys.length, features.dim, labels);
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
  if (n === 0 || same.length !== n) throw new LfwDataError(`need matching non-empty scores and labels (${n}, ${same.length})`);
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
    throw new LfwDataError('ROC needs both same and different pairs');
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

function sortedOrder(scores: ArrayLike<number>): number[] {
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i])) throw new LfwDataError(`score ${i} is NaN`);
  }
  return Array.from({ length: scores.length }, (_, i) => i).sort((x, y) => scores[x] - scores[y]);
}
