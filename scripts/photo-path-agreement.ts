/**
 * npm run photo-path-agreement -- [--pairs ../shared/data/lfw/pairs.txt] [--images ../shared/data/lfw/images]
 *                                 [--prepared .cache/prepared/lfw] [--model teacher|mobileid|FILE]
 *                                 [--workers 2] [--worst 30] [--out reports/photo-path-agreement.json]
 *
 * Why eval-pairs (the photo path) scores below eval-lfw (the prepared crops) on the same pairs
 * (src/tools/photo-path-agreement.ts): every photo of the pair list embedded both ways (the
 * photo's largest face, mirror-averaged; the prepared plain and mirrored crops, averaged), the
 * cosine between its two embeddings, both paths' accuracy (cosine, thresholds from the other
 * folds), and how many of the pairs only the photo path gets wrong involve a photo whose two
 * embeddings disagree (< 0.95) or that has no face. The worst photos are listed with the box the
 * photo path used. Needs the prepared cache of the same photos (npm run prepare-data).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { embeddingModel, embedPhotos } from '../src/cli/embed-photos.js';
import { MobileIdError } from '../src/errors.js';
import { combine, loadFeatures } from '../src/tools/eval-lfw.js';
import { comparePaths } from '../src/tools/photo-path-agreement.js';
import { parsePairList } from '../src/verify/pairs.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('scripts/photo-path-agreement.ts', {
  options: {
    pairs: { type: 'string', default: '../shared/data/lfw/pairs.txt' },
    images: { type: 'string', default: '../shared/data/lfw/images' },
    prepared: { type: 'string', default: '.cache/prepared/lfw' },
    model: { type: 'string', default: 'teacher' },
    workers: { type: 'string', default: '2' },
    worst: { type: 'string', default: '30' },
    out: { type: 'string', default: 'reports/photo-path-agreement.json' },
  },
});

function fail(message: string): never {
  console.error(`photo-path-agreement: ${message}`);
  process.exit(2);
}

const workers = Number(values.workers);
const worst = Number(values.worst);
if (!Number.isInteger(workers) || workers < 1) fail(`--workers must be a positive integer, got ${values.workers}`);
if (!Number.isInteger(worst) || worst < 0) fail(`--worst must be a non-negative integer, got ${values.worst}`);

try {
  const list = parsePairList(readFileSync(values.pairs!, 'utf8'), values.pairs!);
  const photos = [...new Set(list.pairs.flatMap((p) => [p.a, p.b]))];
  const index = new Map(photos.map((photo, i) => [photo, i]));
  const keyOf = (photo: string) => photo.replace(/\.[^./]*$/, '');
  // the prepared features first: a missing cache fails before the long photo pass
  const features = await loadFeatures(values.prepared!, values.model!, 'descriptor', new Set(photos.map(keyOf)));
  const missing = photos.filter((p) => !features.has(keyOf(p)));
  if (missing.length) fail(`${missing.length} photos have no prepared features in ${values.prepared} (e.g. ${missing[0]})`);
  const model = await embeddingModel(values.model!);
  const embedded = await embedPhotos(photos.map((p) => path.join(values.images!, p)), model, { workers, mirror: true, detector: {}, assumeFaceCrops: false });
  const report = comparePaths(
    list.pairs, list.pairs.map((p) => [index.get(p.a)!, index.get(p.b)!]), list.folds,
    { photo: embedded.embeddings, prepared: photos.map((p) => combine(features.get(keyOf(p))!, true, 'average')) },
    worst,
  );
  const json = {
    command: 'photo-path-agreement', pairs: values.pairs, model: values.model, prepared: values.prepared,
    ...report,
    worst: report.worst.map(({ photo, agreement }) => ({ photo: photos[photo], agreement: +agreement.toFixed(4), box: embedded.boxes[photo] })),
  };
  mkdirSync(path.dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, JSON.stringify(json, null, 1));
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const a = report.agreement;
  console.log(
    [
      `${report.photos} photos, ${report.noFace} without a face; agreement of each photo's two embeddings (cosine): ` +
        `min ${a.min.toFixed(3)}, 1st percentile ${a.p1.toFixed(3)}, 5th ${a.p5.toFixed(3)}, median ${a.median.toFixed(4)}; ${a.below095} below 0.95, ${a.below090} below 0.9`,
      `accuracy: photo path ${pct(report.photoPath.accuracyMean)} (${report.photoPath.wrong} pairs wrong), prepared crops ${pct(report.preparedCrops.accuracyMean)} (${report.preparedCrops.wrong} wrong)`,
      `${report.wrongOnlyInPhotoPath} pairs wrong only through the photo path; ${report.wrongOnlyWithDisagreeingPhoto} of them have a photo below 0.95 agreement or without a face`,
      `report: ${values.out}`,
    ].join('\n'),
  );
} catch (error) {
  if (error instanceof MobileIdError) fail(error.message);
  throw error;
}
