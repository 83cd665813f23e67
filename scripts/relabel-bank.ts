/**
 * npm run relabel-bank -- --bank .cache/prepared-w115-v8 --dataset fairface,celeba
 *                         --out .cache/prepared-w115-v8-crop [--workers 2] [--batch 16]
 *
 * Copies a prepared view bank (prepare-data's <bank>/<dataset>/ chunks) to <out>/<dataset>/ with the
 * same crops, images, views and window, and every view labelled again by the teacher on the
 * student's own crop instead of the photo (src/tools/data/relabel.ts); the chunks record
 * `labels: "crop"` and distill's report says so. Resumable like prepare-data: complete chunks
 * (checksum verified) are skipped, a damaged one is done again. Needs no photos.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { parseToolArgs } from '../src/cli/args.js';
import { ProgressBar } from '../src/cli/progress.js';
import { loadBundledModel } from '../src/engine/assets.js';
import { Engine } from '../src/engine/engine.js';
import { TeacherNet } from '../src/face/networks.js';
import { startWorker, untilDone } from '../src/node-worker.js';
import { chunkExists, PreparedDataError, readChunk, removeChunk, writeChunk, writeFailureList } from '../src/tools/data/cache.js';
import { relabelChunk } from '../src/tools/data/relabel.js';

interface Job {
  bankDir: string;
  outDir: string;
  chunks: number[];
  batch: number;
}

type Message = { type: 'chunk'; views: number } | { type: 'done' };

async function runWorker(job: Job): Promise<void> {
  const engine = await Engine.create();
  const teacher = new TeacherNet(engine.loadModel(await loadBundledModel('teacher'), { batch: job.batch }));
  for (const index of job.chunks) {
    const chunk = readChunk(job.bankDir, index);
    const records = relabelChunk(chunk, teacher, job.batch);
    writeChunk(job.outDir, index, { keys: chunk.keys, views: chunk.views, failures: chunk.failures, records, windowScale: chunk.windowScale, mixup: chunk.mixup, labels: 'crop' });
    parentPort!.postMessage({ type: 'chunk', views: chunk.keys.length * chunk.views } satisfies Message);
  }
  parentPort!.postMessage({ type: 'done' } satisfies Message);
}

const fail = (message: string): never => {
  console.error(`relabel-bank: ${message}`);
  process.exit(2);
};

/** The chunk numbers of a bank folder (chunk-NNNNN.json). */
const chunkIndices = (dir: string) => readdirSync(dir).filter((f) => /^chunk-\d{5}\.json$/.test(f)).map((f) => Number(f.slice(6, 11))).sort((a, b) => a - b);

async function relabelDataset(bankDir: string, outDir: string, workers: number, batch: number): Promise<void> {
  let indices: number[];
  try {
    indices = chunkIndices(bankDir);
  } catch {
    return fail(`${bankDir}: no such bank folder (run prepare-data first)`);
  }
  if (indices.length === 0) fail(`${bankDir}: no chunks`);
  // a chunk already relabelled must hold the bank's images; a damaged one is done again
  for (const index of indices.filter((i) => chunkExists(outDir, i))) {
    try {
      const done = readChunk(outDir, index);
      const source = readChunk(bankDir, index);
      if (done.keys.join('\n') !== source.keys.join('\n') || done.views !== source.views) fail(`${outDir}: chunk ${index} holds other images or views than ${bankDir}; use another --out`);
    } catch (error) {
      if (!(error instanceof PreparedDataError)) throw error;
      console.error(`${outDir}: ${error.message}; relabelling chunk ${index} again`);
      removeChunk(outDir, index);
    }
  }
  const first = readChunk(bankDir, indices[0]);
  if (first.labels === 'crop') fail(`${bankDir} is already labelled on the crops`);
  const todo = indices.filter((i) => !chunkExists(outDir, i));
  console.error(`${bankDir}: ${indices.length} chunks of ${first.views} views, ${indices.length - todo.length} already relabelled in ${outDir}`);
  if (todo.length) {
    const bar = new ProgressBar(path.basename(bankDir), todo.length);
    let views = 0;
    const count = Math.max(1, Math.min(workers, todo.length));
    await Promise.all(Array.from({ length: count }, (_, w) => {
      const job: Job = { bankDir, outDir, batch, chunks: todo.filter((_, i) => i % count === w) };
      return untilDone<Message>(startWorker(new URL(import.meta.url), job), (m) => {
        views += m.views;
        bar.tick(`${views} views`);
      });
    }));
    bar.done();
  }
  const { images, failures } = writeFailureList(outDir);
  console.error(`${outDir}: ${images} images relabelled (${failures.length} failed in the bank, not relabelled)`);
}

if (isMainThread) {
  const { values } = parseToolArgs('scripts/relabel-bank.ts', {
    options: {
      bank: { type: 'string' },
      dataset: { type: 'string' },
      out: { type: 'string' },
      workers: { type: 'string', default: '2' },
      batch: { type: 'string', default: '16' },
    },
  });
  if (!values.bank || !values.dataset || !values.out) fail('needs --bank DIR, --dataset NAME[,NAME...] and --out DIR');
  if (path.resolve(values.bank!) === path.resolve(values.out!)) fail('--out must differ from --bank');
  const workers = Number(values.workers);
  const batch = Number(values.batch);
  if (!Number.isInteger(workers) || workers < 1) fail(`--workers must be a positive integer, got "${values.workers}"`);
  if (!Number.isInteger(batch) || batch < 1) fail(`--batch must be a positive integer, got "${values.batch}"`);
  for (const name of values.dataset!.split(',')) {
    await relabelDataset(path.join(values.bank!, name), path.join(values.out!, name), workers, batch);
  }
} else {
  await runWorker(workerData as Job);
}
