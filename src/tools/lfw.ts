/**
 * LFW View 2 evaluation ("unrestricted, labeled outside data"): for each of the 10
 * person-disjoint folds, fit the verifier on every image of the people in the other folds'
 * pairs, choose the threshold on the other folds' pairs, and test on the held-out fold.
 * Nothing about a test fold — its people, images or pairs — reaches fitting or thresholding.
 */
import { MobileIdError } from '../errors.js';
import { mean, standardError } from '../math/stats.js';
import { bestThreshold, rocCurve, type ImageKey, type LfwPairs } from '../verify/pairs.js';
import type { Verifier } from '../verify/verifier.js';

/** The pairs, image lists and features disagree (missing person or image, feature sizes). */
export class LfwDataError extends MobileIdError {
  override name = 'LfwDataError';
}

export function personOfKey(key: ImageKey): string {
  return key.slice(0, key.indexOf('/'));
}

/** The JPEG file of an image key under an LFW images folder. */
export function lfwImagePath(imagesDir: string, key: ImageKey): string {
  return `${imagesDir}/${key}.jpg`;
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

  const accuracyMean = mean(foldAccuracy);
  const { auc, roc } = rocCurve(scores, pairs.pairs.map((p) => p.same));
  return {
    folds: foldAccuracy,
    accuracyMean,
    accuracySe: standardError(foldAccuracy),
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
