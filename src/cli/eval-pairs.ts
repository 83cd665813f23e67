/**
 * mobileid eval-pairs / calibrate: verification accuracy of a labelled pair list through the full
 * photo pipeline (decode -> detect -> landmarks -> align -> embed -> verifier), and a threshold
 * for a target false-accept rate written into a model file. Both embed every photo of the list
 * once (embed-photos.ts) and score the pairs; a photo without a face makes its pairs failed
 * pairs: wrong at every threshold, never dropped. Thresholds are chosen on the other folds only.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeModel } from '../engine/model-format.js';
import { readVerificationDefaults, withVerificationDefaults } from '../face/recognizer.js';
import {
  bestThreshold, crossValidate, failedAsRejected, PairListFormatError, parsePairList, rocCurve, tarAtFar, thresholdAtFar,
  type PairList,
} from '../verify/pairs.js';
import { createVerifier } from '../verify/verifier.js';
import { defineCommand } from './args.js';
import { CliError } from './cli-error.js';
import { embeddingModel, embedPhotos, MODEL_OPTION } from './embed-photos.js';
import { DETECTOR_OPTIONS, detectorOptionsFrom } from './faces.js';
import { readBytes } from './files.js';

/** The options eval-pairs and calibrate share. */
const PAIR_OPTIONS = {
  pairs: { type: 'string', value: 'FILE', description: "the labelled pairs: LFW's pairs.txt, or lines '<fileA>\\t<fileB>\\t<1|0>' after an optional '<folds>\\t<pairs per fold>' header" },
  images: { type: 'string', value: 'DIR', description: 'the folder the photos of --pairs are under' },
  model: MODEL_OPTION,
  verifier: { type: 'string', choices: ['cosine', 'euclidean'], defaultText: "the model's (meta.verification), else cosine", description: 'how two embeddings are compared' },
  mirror: { type: 'boolean', defaultText: "the model's (meta.verification), else off", description: 'average each embedding with that of the mirrored face' },
  workers: { type: 'integer', default: 2, min: 1, max: 64, value: 'N', description: 'worker threads for decoding, detection and embedding' },
  'max-folds': { type: 'integer', min: 2, value: 'N', defaultText: 'all folds', description: 'use only the first N folds of the list (a quicker estimate on fewer photos)' },
  json: { type: 'boolean', default: false, description: 'print the result as JSON on the last stdout line' },
  ...DETECTOR_OPTIONS,
} as const;

/** How far a scored pair is from being right: a same-person pair scored low, a different-person pair scored high. */
export interface WorstPair {
  a: string;
  b: string;
  /** Line of the pair file. */
  line: number;
  score: number;
}

/**
 * The n same-person pairs with the lowest scores and the n different-person pairs with the
 * highest, worst first: where to look for labelling errors and bad photos in a pair list.
 * Failed pairs (no face) are left out; the photos without a face are listed on their own.
 */
export function worstPairs(list: PairList, scores: ArrayLike<number>, n: number): { same: WorstPair[]; different: WorstPair[] } {
  const scored = list.pairs.map((p, i) => ({ a: p.a, b: p.b, line: p.line, score: scores[i], same: p.same })).filter((p) => !Number.isNaN(p.score));
  const pick = (same: boolean) => scored
    .filter((p) => p.same === same)
    .sort((p, q) => (same ? p.score - q.score : q.score - p.score))
    .slice(0, n)
    .map(({ a, b, line, score }) => ({ a, b, line, score }));
  return { same: pick(true), different: pick(false) };
}

type PairValues = {
  pairs?: string; images?: string; model: string; verifier?: string; mirror?: boolean; workers: number; 'max-folds'?: number;
  'input-size'?: number; 'score-threshold'?: number; 'max-faces'?: number; 'fallback-sizes'?: string;
};

export interface ScoredPairs {
  list: PairList;
  /** Per pair; NaN: a failed pair (a photo without a face or that could not be read). */
  scores: Float64Array;
  same: boolean[];
  model: Uint8Array;
  verifier: 'cosine' | 'euclidean';
  mirror: boolean;
  /** Distinct photos. */
  images: number;
  /** The photos that gave no embedding, as the pair list names them. */
  noFacePhotos: string[];
}

/** Reads and checks the pair list (every photo must exist), embeds each photo once, scores every pair. */
export async function scorePairs(values: PairValues): Promise<ScoredPairs> {
  if (values.pairs === undefined) throw new CliError('--pairs FILE is required');
  if (values.images === undefined) throw new CliError('--images DIR is required');
  let list: PairList;
  try {
    list = parsePairList(new TextDecoder().decode(readBytes(values.pairs)), values.pairs);
  } catch (error) {
    if (error instanceof PairListFormatError) throw new CliError(error.message);
    throw error;
  }
  const maxFolds = values['max-folds'];
  if (maxFolds !== undefined && maxFolds < list.folds) list = { ...list, folds: maxFolds, pairs: list.pairs.filter((p) => p.fold < maxFolds) };
  if (!existsSync(values.images) || !statSync(values.images).isDirectory()) throw new CliError(`--images: ${values.images} is not a folder`);
  const index = new Map<string, number>();
  for (const pair of list.pairs) {
    for (const photo of [pair.a, pair.b]) {
      if (index.has(photo)) continue;
      if (!existsSync(path.join(values.images, photo))) {
        throw new CliError(`${values.pairs} line ${pair.line}: ${path.join(values.images, photo)} not found`);
      }
      index.set(photo, index.size);
    }
  }
  const model = await embeddingModel(values.model);
  const defaults = readVerificationDefaults(decodeModel(model).graph.meta);
  const verifierName = (values.verifier ?? defaults?.verifier ?? 'cosine') as 'cosine' | 'euclidean';
  const mirror = values.mirror ?? defaults?.mirror ?? false;
  const photos = [...index.keys()];
  const files = photos.map((photo) => path.join(values.images!, photo));
  const embedded = await embedPhotos(files, model, { workers: values.workers, mirror, detector: detectorOptionsFrom(values), assumeFaceCrops: false });
  if (embedded.failures.length) console.error(`${embedded.failures.length} photos could not be read (their pairs count as failed):\n  ${embedded.failures.slice(0, 10).join('\n  ')}`);
  const verifier = createVerifier(verifierName);
  const scores = Float64Array.from(list.pairs, (pair) => {
    const a = embedded.embeddings[index.get(pair.a)!];
    const b = embedded.embeddings[index.get(pair.b)!];
    return a && b ? verifier.score(a, b) : NaN;
  });
  return {
    list, scores, same: list.pairs.map((p) => p.same), model, verifier: verifierName, mirror,
    images: files.length,
    noFacePhotos: photos.filter((_, i) => embedded.embeddings[i] === null),
  };
}

const percent = (x: number, digits = 2) => `${(100 * x).toFixed(digits)}%`;
const round = (x: number, digits: number) => Number(x.toFixed(digits));

function describeInput(scored: ScoredPairs, modelName: string): string {
  const failed = scored.scores.filter(Number.isNaN).length;
  return `${scored.list.pairs.length} pairs (${scored.list.folds} fold${scored.list.folds > 1 ? 's' : ''}) of ${scored.images} photos; ` +
    `no face in ${scored.noFacePhotos.length} (${percent(scored.noFacePhotos.length / scored.images)}), ${failed} failed pairs; model ${modelName}, ${scored.verifier}${scored.mirror ? ', mirror-averaged' : ''}`;
}

export const evalPairsCommand = defineCommand(
  {
    name: 'eval-pairs',
    summary: 'verification accuracy of a labelled pair list through the full photo pipeline',
    args: [],
    description: [
      'Every photo of the list goes through decode -> detect -> landmarks -> align -> embed (its largest face);',
      'each pair is scored by the verifier. With folds, each fold is tested with the best-accuracy threshold of',
      'the other folds; without (no header), the threshold is chosen and reported on all pairs. A photo without a',
      'face makes its pairs wrong at every threshold (counted, never dropped). Also reports the ROC area and the',
      'true-accept rate at 1% and 0.1% false accepts (a failed pair is never accepted there: a missed match, or',
      'no false accept), and the best-accuracy threshold on all pairs.',
    ].join('\n'),
    options: {
      ...PAIR_OPTIONS,
      worst: {
        type: 'integer', default: 0, min: 0, max: 1000, value: 'N',
        description: 'also list the N lowest-scored same-person pairs, the N highest-scored different-person pairs and the photos without a face (to check a list for labelling errors)',
      },
    },
    examples: [
      'mobileid eval-pairs --pairs lfw/pairs.txt --images lfw/images --mirror',
      'mobileid eval-pairs --pairs my-pairs.tsv --images photos/ --model teacher --verifier euclidean --json',
      'mobileid eval-pairs --pairs my-pairs.tsv --images photos/ --worst 10',
    ],
  },
  async ({ values }) => {
    const scored = await scorePairs(values);
    const { list, scores, same } = scored;
    const cv = crossValidate(scores, same, list.pairs.map((p) => p.fold), list.folds);
    const { auc, roc } = rocCurve(failedAsRejected(scores), same);
    const scoredIndices = [...scores.keys()].filter((i) => !Number.isNaN(scores[i]));
    const threshold = scoredIndices.length ? bestThreshold(scoredIndices.map((i) => scores[i]), scoredIndices.map((i) => same[i])).threshold : null;
    const say = values.json ? console.error : console.log;
    say(describeInput(scored, values.model));
    if (list.folds > 1) {
      cv.folds.forEach((f, i) => say(`fold ${i + 1}/${list.folds}: accuracy ${percent(f.accuracy)} (threshold ${f.threshold.toFixed(4)}, chosen on the other folds)`));
      say(`accuracy ${percent(cv.accuracyMean)} +- ${percent(cv.accuracySe!)} (mean +- standard error over ${list.folds} folds)`);
    } else {
      say(`accuracy ${percent(cv.accuracyMean)} at the best threshold for these pairs (no folds: not held out)`);
    }
    say(`ROC area ${auc.toFixed(4)}; true accepts ${percent(tarAtFar(roc, 0.01))} at 1% false accepts, ${percent(tarAtFar(roc, 0.001))} at 0.1%`);
    say(`threshold (best accuracy on all pairs): ${threshold === null ? 'n/a' : threshold.toFixed(4)} (same person when score > threshold)`);
    const worst = values.worst > 0 ? worstPairs(list, scores, values.worst) : null;
    if (worst) {
      const show = (p: WorstPair) => `  ${p.score.toFixed(4)}  ${p.a}  ${p.b}  (line ${p.line})`;
      say(`lowest-scored same-person pairs:\n${worst.same.map(show).join('\n') || '  none'}`);
      say(`highest-scored different-person pairs:\n${worst.different.map(show).join('\n') || '  none'}`);
      say(`photos without a face: ${scored.noFacePhotos.length ? `\n  ${scored.noFacePhotos.slice(0, values.worst).join('\n  ')}` : 'none'}`);
    }
    if (values.json) {
      console.log(JSON.stringify({
        model: values.model, verifier: scored.verifier, mirror: scored.mirror, images: scored.images, no_face: scored.noFacePhotos.length,
        pairs: list.pairs.length, accuracy_mean: round(cv.accuracyMean, 6), accuracy_se: cv.accuracySe === null ? null : round(cv.accuracySe, 6),
        folds: cv.folds.map((f) => ({ accuracy: round(f.accuracy, 6), threshold: round(f.threshold, 6) })), auc: round(auc, 6),
        tar_at_far: { '0.01': round(tarAtFar(roc, 0.01), 6), '0.001': round(tarAtFar(roc, 0.001), 6) },
        threshold: threshold === null ? null : round(threshold, 6),
        ...(worst && {
          worst_pairs: {
            same: worst.same.map((p) => ({ ...p, score: round(p.score, 6) })),
            different: worst.different.map((p) => ({ ...p, score: round(p.score, 6) })),
          },
          no_face_photos: scored.noFacePhotos.slice(0, values.worst),
        }),
      }));
    }
  },
);

export interface Calibration {
  /** Chosen on all pairs: at most the fraction far of the different-person pairs score above it. */
  threshold: number;
  /** True/false-accept rates of thresholds chosen on the other folds, on each held-out fold (one fold: in-sample). */
  folds: Array<{ threshold: number; tar: number; far: number }>;
  tarMean: number;
  farMean: number;
}

/** "same iff score > threshold" at a target false-accept rate; failed pairs are never accepted. */
export function calibrate(scores: ArrayLike<number>, same: readonly boolean[], fold: readonly number[], folds: number, far: number): Calibration {
  const sure = failedAsRejected(scores);
  const differentOf = (keep: (i: number) => boolean) => [...sure.keys()].filter((i) => !same[i] && keep(i)).map((i) => sure[i]);
  const rates = (t: number, inFold: (i: number) => boolean) => {
    let accepted = 0, sameCount = 0, falseAccepts = 0, differentCount = 0;
    sure.forEach((s, i) => {
      if (!inFold(i)) return;
      if (same[i]) {
        sameCount++;
        if (s > t) accepted++;
      } else {
        differentCount++;
        if (s > t) falseAccepts++;
      }
    });
    return { tar: accepted / sameCount, far: falseAccepts / differentCount };
  };
  const results = Array.from({ length: folds }, (_, f) => {
    const threshold = thresholdAtFar(differentOf((i) => folds === 1 || fold[i] !== f), far);
    return { threshold, ...rates(threshold, (i) => fold[i] === f) };
  });
  const mean = (key: 'tar' | 'far') => results.reduce((s, r) => s + r[key], 0) / folds;
  return { threshold: thresholdAtFar(differentOf(() => true), far), folds: results, tarMean: mean('tar'), farMean: mean('far') };
}

export const calibrateCommand = defineCommand(
  {
    name: 'calibrate',
    summary: 'the verification threshold for a target false-accept rate, from labelled pairs, written into a model file',
    args: [],
    description: [
      'Scores the pairs as eval-pairs does, then chooses the threshold at which at most --far of the',
      'different-person pairs are accepted, and reports the true-accept rate it gives: with folds, the',
      'threshold is chosen on the other folds and both rates measured on the held-out fold; without, on all',
      'pairs (in-sample). With --out, writes a copy of the model whose verification rule (verifier, threshold,',
      'mirror) is the calibrated one: verify --model FILE and FaceRecognizer.create({ models: { student } })',
      'then decide with it. The threshold for --out is chosen on all pairs.',
    ].join('\n'),
    options: {
      ...PAIR_OPTIONS,
      far: { type: 'number', default: 0.001, min: 0, max: 0.999, value: 'RATE', description: 'target false-accept rate (fraction of different-person pairs accepted)' },
      out: { type: 'string', value: 'FILE', defaultText: 'not written', description: 'write the model with the calibrated verification rule to FILE (.mobileid)' },
    },
    examples: [
      'mobileid calibrate --pairs my-pairs.tsv --images photos/ --far 0.001 --out my-student.mobileid',
      'mobileid verify a.jpg b.jpg --model my-student.mobileid',
    ],
  },
  async ({ values }) => {
    if (values.out !== undefined && !values.out.endsWith('.mobileid')) throw new CliError(`--out must name a .mobileid file, got "${values.out}"`);
    const scored = await scorePairs(values);
    const { list, scores, same } = scored;
    const result = calibrate(scores, same, list.pairs.map((p) => p.fold), list.folds, values.far);
    const say = values.json ? console.error : console.log;
    say(describeInput(scored, values.model));
    const how = list.folds > 1 ? `thresholds chosen on the other folds, measured on each held-out fold (mean of ${list.folds})` : 'in-sample: no folds to hold out';
    say(`at a target of ${percent(values.far, 3)} false accepts: true accepts ${percent(result.tarMean)}, false accepts ${percent(result.farMean, 3)} (${how})`);
    say(`threshold on all pairs: ${result.threshold.toFixed(6)} (${scored.verifier}${scored.mirror ? ', mirror-averaged' : ''}; same person when score > threshold)`);
    if (values.out !== undefined) {
      const source = `${percent(values.far, 3)} false accepts on ${path.basename(values.pairs!)} (${list.pairs.length} pairs, mobileid calibrate)`;
      writeFileSync(values.out, withVerificationDefaults(scored.model, { verifier: scored.verifier, threshold: result.threshold, mirror: scored.mirror, source }));
      say(`wrote ${values.out}: verify --model ${values.out} decides with this threshold`);
    } else {
      say('pass --out FILE.mobileid to write a model file that decides with this threshold');
    }
    if (values.json) {
      console.log(JSON.stringify({
        model: values.model, verifier: scored.verifier, mirror: scored.mirror, images: scored.images, no_face: scored.noFacePhotos.length, pairs: list.pairs.length,
        far_target: values.far, threshold: result.threshold, tar: round(result.tarMean, 6), far: round(result.farMean, 6),
        folds: result.folds.map((f) => ({ threshold: round(f.threshold, 6), tar: round(f.tar, 6), far: round(f.far, 6) })), out: values.out ?? null,
      }));
    }
  },
);
