/**
 * npm run prepare-data -- [--dataset lfw|utkface|fairface|celeba|all] [--data ../shared/data]
 *                         [--fairface .cache/data/fairface/fair_face] [--out .cache/prepared]
 *                         [--workers 2] [--limit N] [--passes N] [--chunk-size 256]
 *                         [--window-scale 1] [--pair-folds N] [--views K] [--mixup P] [--extend DIR]
 *
 * LFW, UTKFace and CelebA come from <data>/<set>/images; FairFace is not in shared data: bring
 * it from its public repository (README, "Training data") into --fairface (train/ and val/).
 *
 * For every image of the data set: landmarks, alignment, student crops and teacher outputs per
 * view (src/tools/data/prepare.ts), written in chunks of 256 images to <out>/<dataset>/ (src/tools/data/cache.ts).
 * Resumable, also after a kill at any point: complete chunks are skipped, after their checksum
 * is verified (a damaged chunk is reported and prepared again). Every failure is counted, named and listed in
 * <out>/<dataset>/failures.json; nothing is dropped silently.
 *
 * --window-scale cuts the student crops with a larger (> 1) or smaller field of view (STUDENT_WINDOW_SCALE,
 * src/face/align.ts); the scale is recorded in every chunk and a cache cut with another is refused.
 * --pair-folds N (LFW only) prepares only the images named by the pairs of the first N folds of
 * <data>/lfw/pairs.txt (what eval-lfw --folds N --verifier cosine|euclidean needs), e.g. to measure
 * another window without preparing all 13,233 images into another --out.
 * --views K (training sets; default 3) makes the view bank larger: views 0 and 1 plain and
 * mirrored, K - 2 jittered and degraded ones, each labelled by the teacher on its own pixels.
 * --mixup P (default 0) makes each jittered view, with probability P, a mixup of the face with
 * the previous face of its chunk aligned onto it (src/tools/data/prepare.ts). A cache is resumed
 * only with the views and mixup it was started with.
 * --extend DIR makes a bank with more views from a complete smaller one in DIR (a root like
 * --out, same images, chunk size, window and mixup): its views are copied and only the new ones
 * labelled by the teacher; the result is the bank --views K would have made from scratch (the
 * same crops; teacher outputs equal to float rounding, as the teacher runs in smaller batches).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ProgressBar } from '../src/cli/progress.js';
import { loadBundledModel } from '../src/engine/assets.js';
import { Engine } from '../src/engine/engine.js';
import { STUDENT_WINDOW_SCALE } from '../src/face/align.js';
import { LandmarkNet, TeacherNet } from '../src/face/networks.js';
import { decodeImage } from '../src/image.js';
import { startWorker, untilDone } from '../src/node-worker.js';
import { chunkExists, PreparedDataError, readChunk, readRecord, removeChunk, writeChunk, writeFailureList, type Failure, type PreparedRecord } from '../src/tools/data/cache.js';
import { FacePreparer, PROFILES, type DatasetName, type LandmarkedImage } from '../src/tools/data/prepare.js';
import { imagesDirOf, listImages, SHARED_FOLDER } from '../src/tools/data/sources.js';
import { parsePairs } from '../src/verify/pairs.js';
import { parseToolArgs } from '../src/cli/args.js';

type Dataset = DatasetName;
const ALL: Dataset[] = ['lfw', 'utkface', 'fairface', 'celeba'];

interface Job {
  dataset: Dataset;
  passes: number;
  imagesDir: string;
  outDir: string;
  keys: string[];
  chunks: number[];
  chunkSize: number;
  windowScale: number;
  views: number;
  mixup: number;
  /** The smaller bank (dataset folder) whose views this one keeps and adds to (--extend). */
  extendDir?: string;
}

interface DatasetOptions {
  imagesDir: string;
  outRoot: string;
  workers: number;
  limit: number;
  passes: number;
  chunkSize: number;
  windowScale: number;
  views: number;
  mixup: number;
  /** Prepare only these keys (--pair-folds). */
  only?: Set<string>;
  /** The root of a smaller bank of the same images to extend (--extend). */
  extendRoot?: string;
}

type Message = { type: 'image'; failed: boolean } | { type: 'done' };

async function runWorker(job: Job): Promise<void> {
  const engine = await Engine.create();
  const preparer = new FacePreparer(
    new LandmarkNet(engine.loadModel(await loadBundledModel('landmarks68'))),
    new TeacherNet(engine.loadModel(await loadBundledModel('teacher'))),
    job.windowScale,
  );
  const profile = { ...PROFILES[job.dataset], passes: job.passes, views: job.views, mixup: job.mixup };
  const files = listImages(job.dataset, job.imagesDir);
  const fileOf = new Map(files.map((f) => [f.key, f.file]));
  for (const index of job.chunks) {
    const keys = job.keys.slice(index * job.chunkSize, (index + 1) * job.chunkSize);
    const done: string[] = [];
    const records: PreparedRecord[][] = [];
    const failures: Failure[] = [];
    const source = job.extendDir ? readChunk(job.extendDir, index) : undefined;
    const sourceRow = new Map(source?.keys.map((key, row) => [key, row]));
    // the mixup partner of a face: the previous prepared face of the chunk (chunks are prepared independently)
    let partner: LandmarkedImage | undefined;
    keys.forEach((key, i) => {
      const failedBefore = source?.failures.find((f) => f.key === key);
      if (failedBefore) {
        // as in the smaller bank, whose run did not take this face as a partner either
        failures.push(failedBefore);
        parentPort!.postMessage({ type: 'image', failed: true } satisfies Message);
        return;
      }
      try {
        const image = decodeImage(new Uint8Array(readFileSync(fileOf.get(key)!)));
        const kept = source ? Array.from({ length: source.views }, (_, v) => readRecord(source, sourceRow.get(key)!, v)) : [];
        const prepared = preparer.prepare(image, profile, index * job.chunkSize + i + 1, partner, kept.length);
        records.push([...kept, ...prepared.views]);
        partner = prepared;
        done.push(key);
        parentPort!.postMessage({ type: 'image', failed: false } satisfies Message);
      } catch (error) {
        failures.push({ key, reason: `${(error as Error).name}: ${(error as Error).message}` });
        parentPort!.postMessage({ type: 'image', failed: true } satisfies Message);
      }
    });
    writeChunk(job.outDir, index, { keys: done, views: profile.views, failures, records, windowScale: job.windowScale, mixup: job.mixup });
  }
  parentPort!.postMessage({ type: 'done' } satisfies Message);
}

async function prepareDataset(dataset: Dataset, options: DatasetOptions): Promise<void> {
  const { imagesDir, outRoot, workers, limit, passes, chunkSize, windowScale, views, mixup, only, extendRoot } = options;
  if (!existsSync(imagesDir)) {
    const how = dataset === 'fairface' ? 'see the README, "Training data"' : 'see ../shared/data/README.md';
    console.error(`${dataset}: ${imagesDir} not found (${how})`);
    process.exit(2);
  }
  const outDir = path.join(outRoot, dataset);
  const keys = listImages(dataset, imagesDir).map((f) => f.key).filter((key) => !only || only.has(key)).slice(0, limit);
  const chunkCount = Math.ceil(keys.length / chunkSize);
  // a resumed cache must describe the same images in the same chunks, or it would silently skip
  // some; a chunk damaged since it was written (checksum, size, JSON) is prepared again
  for (let index = 0; index < chunkCount; index++) {
    if (!chunkExists(outDir, index)) continue;
    let chunk: { keys: string[]; failures: Failure[]; windowScale: number; views: number; mixup: number };
    try {
      chunk = readChunk(outDir, index);
    } catch (error) {
      if (!(error instanceof PreparedDataError)) throw error;
      console.error(`${dataset}: ${error.message}; preparing chunk ${index} again`);
      removeChunk(outDir, index);
      continue;
    }
    const expected = keys.slice(index * chunkSize, (index + 1) * chunkSize);
    const stored = [...chunk.keys, ...chunk.failures.map((f) => f.key)].sort();
    if (stored.join('\n') !== [...expected].sort().join('\n')) {
      console.error(`${outDir}: chunk ${index} was prepared from a different image list (or chunk size); delete ${outDir} and rerun`);
      process.exit(2);
    }
    if (chunk.windowScale !== windowScale) {
      console.error(`${outDir}: chunk ${index} was cut with window scale ${chunk.windowScale}, not ${windowScale}; use another --out`);
      process.exit(2);
    }
    if (chunk.views !== views || chunk.mixup !== mixup) {
      console.error(`${outDir}: chunk ${index} has ${chunk.views} views with mixup ${chunk.mixup}, not ${views} with ${mixup}; use another --out`);
      process.exit(2);
    }
  }
  const extendDir = extendRoot === undefined ? undefined : path.join(extendRoot, dataset);
  if (extendDir) checkBankToExtend(extendDir, keys, chunkSize, { windowScale, views, mixup });
  const todo = Array.from({ length: chunkCount }, (_, i) => i).filter((i) => !chunkExists(outDir, i));
  const remaining = todo.reduce((n, i) => n + Math.min(chunkSize, keys.length - i * chunkSize), 0);
  console.error(`${dataset}: ${keys.length} images, window scale ${windowScale}, ${chunkCount - todo.length}/${chunkCount} chunks already prepared, ${remaining} to go`);
  if (todo.length) {
    const bar = new ProgressBar(`${dataset}`, remaining);
    let failed = 0;
    const count = Math.max(1, Math.min(workers, todo.length));
    await Promise.all(
      Array.from({ length: count }, (_, w) => {
        const job: Job = { dataset, passes, imagesDir, outDir, keys, chunkSize, windowScale, views, mixup, extendDir, chunks: todo.filter((_, i) => i % count === w) };
        return untilDone<Message>(startWorker(new URL(import.meta.url), job), (m) => {
          if (m.failed) failed++;
          bar.tick(failed ? `${failed} failed` : '');
        });
      }),
    );
    bar.done();
  }
  const { images: prepared, failures } = writeFailureList(outDir);
  console.error(`${dataset}: ${prepared} prepared, ${failures.length} failed${failures.length ? ' (see failures.json)' : ''}`);
  for (const f of failures.slice(0, 20)) console.error(`  ${f.key}: ${f.reason}`);
}

/**
 * The bank --extend names must be complete and made like this one (same images in the same
 * chunks, window and mixup) with fewer views: its views are kept, the rest drawn after them.
 */
function checkBankToExtend(dir: string, keys: string[], chunkSize: number, bank: { windowScale: number; views: number; mixup: number }): void {
  const refuse = (why: string): never => {
    console.error(`--extend: ${dir} ${why}`);
    process.exit(2);
  };
  const chunkCount = Math.ceil(keys.length / chunkSize);
  for (let index = 0; index < chunkCount; index++) {
    if (!chunkExists(dir, index)) refuse(`has no chunk ${index}: finish preparing it first (same --chunk-size)`);
    let chunk: ReturnType<typeof readChunk>;
    try {
      chunk = readChunk(dir, index);
    } catch (error) {
      if (!(error instanceof PreparedDataError)) throw error;
      return refuse(`chunk ${index}: ${error.message}`);
    }
    const stored = [...chunk.keys, ...chunk.failures.map((f) => f.key)].sort();
    if (stored.join('\n') !== keys.slice(index * chunkSize, (index + 1) * chunkSize).sort().join('\n')) refuse(`chunk ${index} holds other images (or another --chunk-size)`);
    if (chunk.windowScale !== bank.windowScale) refuse(`was cut with window scale ${chunk.windowScale}, not ${bank.windowScale}`);
    if (chunk.mixup !== bank.mixup) refuse(`has mixup ${chunk.mixup}, not ${bank.mixup}`);
    if (chunk.views >= bank.views) refuse(`already has ${chunk.views} views; --views must be more`);
  }
}

if (isMainThread) {
  const { values } = parseToolArgs('scripts/prepare-data.ts', {
    options: {
      dataset: { type: 'string', default: 'all' },
      data: { type: 'string', default: '../shared/data' },
      fairface: { type: 'string', default: '.cache/data/fairface/fair_face' },
      out: { type: 'string', default: '.cache/prepared' },
      workers: { type: 'string', default: '2' },
      limit: { type: 'string', default: String(Number.MAX_SAFE_INTEGER) },
      passes: { type: 'string' },
      'chunk-size': { type: 'string', default: '256' },
      'window-scale': { type: 'string', default: String(STUDENT_WINDOW_SCALE) },
      'pair-folds': { type: 'string' },
      views: { type: 'string' },
      mixup: { type: 'string' },
      extend: { type: 'string' },
    },
  });
  const datasets: Dataset[] = values.dataset === 'all' ? ALL : (values.dataset!.split(',') as Dataset[]);
  for (const d of datasets) {
    if (!(d in PROFILES)) {
      console.error(`prepare-data: unknown dataset "${d}"; use ${ALL.join(', ')} (comma-separated) or all`);
      process.exit(2);
    }
  }
  const chunkSize = Number(values['chunk-size']);
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    console.error(`prepare-data: --chunk-size must be a positive integer, got "${values['chunk-size']}"`);
    process.exit(2);
  }
  const windowScale = Number(values['window-scale']);
  if (!(windowScale > 0) || !Number.isFinite(windowScale)) {
    console.error(`prepare-data: --window-scale must be a number > 0, got "${values['window-scale']}"`);
    process.exit(2);
  }
  const views = values.views === undefined ? undefined : Number(values.views);
  const mixup = values.mixup === undefined ? 0 : Number(values.mixup);
  if ((views !== undefined || mixup > 0) && datasets.includes('lfw')) {
    console.error('prepare-data: --views and --mixup are for the training sets (utkface, fairface, celeba); LFW keeps its plain and mirrored views');
    process.exit(2);
  }
  if (views !== undefined && (!Number.isInteger(views) || views < 3)) {
    console.error(`prepare-data: --views must be an integer >= 3 (plain, mirror and at least one jittered view), got "${values.views}"`);
    process.exit(2);
  }
  if (!(mixup >= 0 && mixup <= 1)) {
    console.error(`prepare-data: --mixup must be a probability in 0..1, got "${values.mixup}"`);
    process.exit(2);
  }
  if (values.extend !== undefined && (views === undefined || path.resolve(values.extend) === path.resolve(values.out!))) {
    console.error('prepare-data: --extend DIR needs --views (more than DIR has) and another --out');
    process.exit(2);
  }
  let only: Set<string> | undefined;
  if (values['pair-folds'] !== undefined) {
    const folds = Number(values['pair-folds']);
    if (!Number.isInteger(folds) || folds < 1 || datasets.some((d) => d !== 'lfw')) {
      console.error(`prepare-data: --pair-folds needs --dataset lfw and a positive integer, got "${values['pair-folds']}"`);
      process.exit(2);
    }
    const pairsFile = path.join(values.data!, SHARED_FOLDER.lfw, 'pairs.txt');
    const pairs = parsePairs(readFileSync(pairsFile, 'utf8'), pairsFile).pairs.filter((p) => p.fold < folds);
    only = new Set(pairs.flatMap((p) => [p.a, p.b]));
  }
  for (const d of datasets) {
    const imagesDir = imagesDirOf(d, values.data!, values.fairface!);
    const passes = values.passes ? Number(values.passes) : PROFILES[d].passes;
    await prepareDataset(d, {
      imagesDir, outRoot: values.out!, workers: Number(values.workers), limit: Number(values.limit), passes, chunkSize, windowScale,
      views: views ?? PROFILES[d].views, mixup, only, extendRoot: values.extend,
    });
  }
} else {
  await runWorker(workerData as Job);
}
