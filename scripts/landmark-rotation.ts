/**
 * npm run landmark-rotation -- [--folds 2] [--pairs-per-fold 300] [--angles 20,-20,35,-35] [--json]
 *                              [--out reports/landmark-rotation.json]
 *
 * The upright landmark refinement (FaceRecognizer's uprightLandmarks) before (false) and after
 * (true), on LFW photos turned about their centre by each angle (black corners; positive angles
 * clockwise on screen) through the full photo path (detect -> 68 landmarks, 2 passes -> dlib chip
 * -> the teacher, no mirror):
 *   - landmark agreement: the landmarks found in the rotated photo, mapped back to the upright
 *     photo, against the same pipeline's landmarks on the upright photo: mean point error over the
 *     68 points divided by the eye-centre distance (photos where either has no face are counted
 *     in no_face, not in the mean);
 *   - teacher accuracy on the LFW pairs of the first --folds folds (the first --pairs-per-fold
 *     same and as many different pairs of each): the first photo of a pair upright, the second
 *     rotated; cosine, each fold tested with the best threshold of the other folds; a photo
 *     without a face fails its pairs.
 * Angle 0 is always measured (upright_change: after against before on the upright photos).
 * Photos are taken pair by pair, round-robin over folds and same/different, and the JSON report
 * is rewritten every 10 photos over the pairs done so far (`complete: false`), so a run stopped
 * early leaves balanced figures; at the end it is printed as the last stdout line with --json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadBundledModel } from '../src/engine/assets.js';
import { FaceRecognizer } from '../src/face/recognizer.js';
import { decodeImage } from '../src/image.js';
import { createVerifier } from '../src/verify/verifier.js';
import { crossValidate, parsePairs } from '../src/verify/pairs.js';
import { normalisedPointError, rotatePhoto, toOriginalPoints } from '../src/tools/landmark-rotation.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('scripts/landmark-rotation.ts', {
  options: {
    folds: { type: 'string', default: '2' },
    'pairs-per-fold': { type: 'string', default: '300' },
    angles: { type: 'string', default: '20,-20,35,-35' },
    lfw: { type: 'string', default: '../shared/data/lfw' },
    json: { type: 'boolean', default: false },
    out: { type: 'string', default: 'reports/landmark-rotation.json' },
  },
});
const positive = (name: string, text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
  return n;
};
const folds = positive('folds', values.folds!);
const perFold = positive('pairs-per-fold', values['pairs-per-fold']!);
const angles = [0, ...values.angles!.split(',').map(Number).filter((a) => a !== 0)];
if (angles.some((a) => !Number.isFinite(a))) throw new Error(`--angles must be numbers, got ${values.angles}`);

const all = parsePairs(readFileSync(path.join(values.lfw!, 'pairs.txt'), 'utf8'));
if (folds < 2 || folds > all.folds) throw new Error(`--folds must be 2..${all.folds}`);
const half = Math.min(perFold, all.pairsPerClass);
// round-robin: the j-th same and j-th different pair of every fold, then the (j+1)-th ...
const rank = (i: number) => (i % all.pairsPerClass) * 2 * folds + Math.floor(i / all.pairsPerClass);
const pairs = all.pairs
  .map((p, i) => ({ ...p, rank: rank(i) }))
  .filter((p, i) => p.fold < folds && i % all.pairsPerClass < half)
  .sort((x, y) => x.rank - y.rank);
const photos = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];

const teacher = await loadBundledModel('teacher');
const configs = { before: false, after: true } as const;
type Config = keyof typeof configs;
const recognizers = Object.fromEntries(
  await Promise.all(Object.entries(configs).map(async ([name, upright]) => [name, await FaceRecognizer.create({ models: { student: teacher }, uprightLandmarks: upright })])),
) as Record<Config, FaceRecognizer>;

type Result = { landmarks: Array<readonly [number, number]>; embedding: Float32Array } | null;
// results[config][angle][photo]
const results = Object.fromEntries(Object.keys(configs).map((c) => [c, Object.fromEntries(angles.map((a) => [a, new Map<string, Result>()]))])) as Record<Config, Record<number, Map<string, Result>>>;
const cosine = createVerifier('cosine');
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
const round = (x: number) => Number(x.toFixed(5));
/** The figures over the photos done, and the pairs whose two photos are done. */
function buildReport(complete: boolean, done: Set<string>) {
  const donePhotos = photos.filter((key) => done.has(key));
  const donePairs = pairs.filter((p) => done.has(p.a) && done.has(p.b));
  const byAngle = angles.map((angle) => {
    const row: Record<string, unknown> = { angle };
    for (const config of Object.keys(configs) as Config[]) {
      const errors: number[] = [];
      let noFace = 0;
      for (const key of donePhotos) {
        const upright = results[config][0].get(key);
        const turned = results[config][angle].get(key);
        if (!upright || !turned) noFace++;
        else errors.push(normalisedPointError(turned.landmarks, upright.landmarks));
      }
      const scores = donePairs.map((p) => {
        const a = results[config][0].get(p.a);
        const b = results[config][angle].get(p.b);
        return a && b ? cosine.score(a.embedding, b.embedding) : NaN;
      });
      const cv = crossValidate(scores, donePairs.map((p) => p.same), donePairs.map((p) => p.fold), folds);
      row[config] = {
        landmark_error_mean: round(mean(errors)), landmark_error_median: round(median(errors)),
        landmark_error_over_0_1: round(errors.filter((e) => e > 0.1).length / errors.length),
        no_face: noFace, teacher_accuracy: round(cv.accuracyMean), teacher_accuracy_se: round(cv.accuracySe!),
      };
    }
    return row;
  });
  const uprightChange = donePhotos.flatMap((key) => {
    const b = results.before[0].get(key), a = results.after[0].get(key);
    return a && b ? [normalisedPointError(a.landmarks, b.landmarks)] : [];
  });
  return {
    bench: 'landmark-rotation', complete, photos: donePhotos.length, pairs: donePairs.length, folds, pairs_per_fold: 2 * half,
    rotation: 'about the photo centre, same size, black corners; positive = clockwise on screen',
    pairing: 'first photo upright, second rotated; teacher (dlib ResNet) descriptor, cosine, no mirror; thresholds from the other folds',
    landmark_error: 'mean distance over 68 points, rotated result mapped back vs the same pipeline on the upright photo, / eye-centre distance',
    upright_change_mean: round(mean(uprightChange)), by_angle: byAngle,
    machine: `${process.platform} ${process.arch}, node ${process.version}`,
  };
}

function writeReport(report: ReturnType<typeof buildReport>) {
  mkdirSync(path.dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, JSON.stringify(report, null, 1));
}

const started = performance.now();
for (const [i, key] of photos.entries()) {
  const image = decodeImage(new Uint8Array(readFileSync(path.join(values.lfw!, 'images', `${key}.jpg`))));
  for (const angle of angles) {
    const rotated = rotatePhoto(image, angle);
    for (const config of Object.keys(configs) as Config[]) {
      const face = recognizers[config].embedLargestFace(rotated.image);
      results[config][angle].set(key, face && { landmarks: toOriginalPoints(face.face.landmarks68, rotated), embedding: face.embedding });
    }
  }
  if (i % 10 === 9 || i === photos.length - 1) {
    console.error(`${i + 1}/${photos.length} photos, ${((performance.now() - started) / 1000 / (i + 1)).toFixed(1)} s per photo`);
    const done = new Set(photos.slice(0, i + 1));
    const foldsDone = new Set(pairs.filter((p) => done.has(p.a) && done.has(p.b)).map((p) => p.fold)).size;
    if (foldsDone === folds) writeReport(buildReport(false, done));
  }
}
for (const r of Object.values(recognizers)) r.dispose();

const report = buildReport(true, new Set(photos));
writeReport(report);
for (const row of report.by_angle) {
  const text = (Object.keys(configs) as Config[]).map((c) => {
    const r = row[c] as { landmark_error_mean: number; teacher_accuracy: number; no_face: number };
    return `${c} error ${r.landmark_error_mean.toFixed(4)}, accuracy ${(100 * r.teacher_accuracy).toFixed(2)}%, no face ${r.no_face}`;
  });
  (values.json ? console.error : console.log)(`${String(row.angle).padStart(4)} deg: ${text.join(' | ')}`);
}
if (values.json) console.log(JSON.stringify(report));
