/**
 * mobileid gallery <folder> --out gallery.png [--size 5000] [--thumb 100] [--model mobileid|teacher|<file>]
 *                  [--workers 2] [--limit N] [--perplexity 30] [--seed 1] [--json]
 *
 * Every JPEG/PNG under <folder>: largest detected face (or, when the detector finds none, the
 * image taken as a centred face crop, counted and reported) -> landmarks -> embedding;
 * Barnes-Hut t-SNE of the embeddings; faces pasted as thumbnails on a grid at their t-SNE
 * position, occupied cells skipped, as in the MobileID paper's picture. --json prints the 2-D
 * coordinates to <out>.json and, as the LAST stdout line, {"images", "seconds", "out"}.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { STUDENT_CROP_HEIGHT, dlibFaceChipTransform } from '../align.js';
import { loadBundledModel } from '../assets.js';
import { TinyFaceDetector } from '../detector.js';
import { Engine } from '../engine.js';
import { LandmarkNet, StudentNet, TeacherNet, type Box } from '../faces.js';
import { faceThumbnail, renderGallery } from '../gallery.js';
import { decodeImage, encodePng } from '../image.js';
import { startWorker } from '../node-worker.js';
import { ProgressBar } from '../progress.js';
import { tsne } from '../tsne.js';
import { CliError } from './cli-error.js';

interface EmbedJob {
  role: 'gallery-embed';
  files: string[];
  model: string;
}

type EmbedMessage =
  | { type: 'face'; index: number; embedding: Float32Array; box: Box; detected: boolean }
  | { type: 'failed'; index: number; reason: string }
  | { type: 'done' };

const IMAGE_FILE = /\.(jpe?g|png)$/i;

export function listImageFiles(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (IMAGE_FILE.test(name)) out.push(full);
    }
  };
  walk(folder);
  return out;
}

async function embedWorker(job: EmbedJob): Promise<void> {
  const engine = await Engine.create();
  const detector = new TinyFaceDetector(engine, await loadBundledModel('detector'));
  const landmarks = new LandmarkNet(engine.loadModel(await loadBundledModel('landmarks68')));
  const modelBytes = job.model === 'teacher' ? await loadBundledModel('teacher')
    : job.model === 'mobileid' ? await loadBundledModel('mobileid') : new Uint8Array(readFileSync(job.model));
  const loaded = engine.loadModel(modelBytes);
  const embedder = loaded.inputShape[0] === STUDENT_CROP_HEIGHT ? new StudentNet(loaded) : new TeacherNet(loaded);
  job.files.forEach((file, index) => {
    try {
      const image = decodeImage(new Uint8Array(readFileSync(file)));
      // small inputs (pre-cropped faces) get a matching detector size: cheaper, and faces stay large
      const inputSize = Math.min(416, Math.max(128, Math.ceil(Math.max(image.width, image.height) / 32) * 32));
      const found = detector.detect(image, { inputSize });
      const largest = found.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height)[0];
      const side = Math.min(image.width, image.height) * 0.6;
      const box = largest?.box ?? { x: (image.width - side) / 2, y: (image.height - side) / 2, width: side, height: side };
      const [points] = landmarks.detect([{ image, box }], 2);
      const embedding = embedder instanceof StudentNet
        ? embedder.embed([{ image, landmarks: points }])
        : embedder.embedChips([{ image, chipToImage: dlibFaceChipTransform(points) }]).descriptor;
      parentPort!.postMessage({ type: 'face', index, embedding, box, detected: Boolean(largest) } satisfies EmbedMessage);
    } catch (error) {
      parentPort!.postMessage({ type: 'failed', index, reason: `${(error as Error).name}: ${(error as Error).message}` } satisfies EmbedMessage);
    }
  });
  parentPort!.postMessage({ type: 'done' } satisfies EmbedMessage);
}

export async function galleryCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', default: 'gallery.png' },
      size: { type: 'string', default: '5000' },
      thumb: { type: 'string', default: '100' },
      model: { type: 'string', default: 'mobileid' },
      workers: { type: 'string', default: '2' },
      limit: { type: 'string' },
      perplexity: { type: 'string', default: '30' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const folder = positionals[0];
  if (!folder || !existsSync(folder) || !statSync(folder).isDirectory()) throw new CliError('usage: mobileid gallery <folder-of-images> --out gallery.png');
  const model = values.model!;
  if (!['mobileid', 'teacher'].includes(model) && !existsSync(model)) throw new CliError(`model file ${model} not found`);
  const size = Number(values.size);
  const thumb = Number(values.thumb);
  if (!(size >= thumb && thumb >= 4)) throw new CliError('--size must be >= --thumb >= 4');
  let files = listImageFiles(folder);
  if (values.limit) files = files.slice(0, Number(values.limit));
  if (files.length < 3) throw new CliError(`${folder} holds ${files.length} images; a gallery needs at least 3`);
  const seconds = { embed: 0, tsne: 0, render: 0 };

  // 1. embeddings, split over worker threads
  let t0 = performance.now();
  const workers = Math.max(1, Math.min(Number(values.workers) || 1, files.length));
  const embeddings: (Float32Array | undefined)[] = new Array(files.length);
  const boxes: (Box | undefined)[] = new Array(files.length);
  const failures: string[] = [];
  let undetected = 0;
  const bar = new ProgressBar('embed', files.length);
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const mine = files.map((_, i) => i).filter((i) => i % workers === w);
      const job: EmbedJob = { role: 'gallery-embed', files: mine.map((i) => files[i]), model };
      const worker = startWorker(new URL(import.meta.url), job);
      return new Promise<void>((resolve, reject) => {
        worker.on('message', (m: EmbedMessage) => {
          if (m.type === 'done') return resolve();
          const index = mine[m.index];
          if (m.type === 'failed') failures.push(`${files[index]}: ${m.reason}`);
          else {
            embeddings[index] = m.embedding;
            boxes[index] = m.box;
            if (!m.detected) undetected++;
          }
          bar.tick(failures.length ? `${failures.length} failed` : '');
        });
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`embedding worker exited with code ${code}`))));
      });
    }),
  );
  bar.done();
  seconds.embed = (performance.now() - t0) / 1000;
  if (failures.length) console.error(`${failures.length} images failed and are left out:\n  ${failures.slice(0, 20).join('\n  ')}`);
  if (undetected) console.error(`${undetected} images had no detected face and were taken as centred face crops`);
  const kept = embeddings.map((e, i) => (e ? i : -1)).filter((i) => i >= 0);
  if (kept.length < 3) throw new CliError('fewer than 3 faces could be embedded');
  const dim = embeddings[kept[0]]!.length;
  const rows = new Float32Array(kept.length * dim);
  kept.forEach((i, k) => rows.set(embeddings[i]!, k * dim));

  // 2. t-SNE
  t0 = performance.now();
  const perplexity = Math.min(Number(values.perplexity), Math.floor((kept.length - 1) / 3));
  const tsneBar = new ProgressBar('t-SNE', 100);
  let shown = 0;
  const coords = tsne(rows, kept.length, dim, {
    perplexity,
    seed: Number(values.seed),
    onProgress: (stage, fraction) => {
      const now = Math.round(fraction * 100);
      if (stage === 'optimise' && now > shown) {
        tsneBar.tick(stage, now - shown);
        shown = now;
      }
    },
  });
  tsneBar.done();
  seconds.tsne = (performance.now() - t0) / 1000;

  // 3. picture: only placed faces are decoded again
  t0 = performance.now();
  const gallery = renderGallery(coords, kept.length, (k) => {
    const i = kept[k];
    return faceThumbnail(decodeImage(new Uint8Array(readFileSync(files[i]))), boxes[i]!, thumb);
  }, { canvasSize: size, thumbSize: thumb });
  writeFileSync(values.out!, encodePng(gallery.image));
  seconds.render = (performance.now() - t0) / 1000;
  const round = (s: number) => Math.round(s * 10) / 10;
  console.error(`${kept.length} faces embedded (${round(seconds.embed)} s), t-SNE ${round(seconds.tsne)} s, ${gallery.placements.length} placed, ${gallery.skipped.length} skipped (cell taken); wrote ${values.out}`);
  if (values.json) {
    const coordinates = kept.map((i, k) => ({ file: path.relative(folder, files[i]), x: coords[2 * k], y: coords[2 * k + 1] }));
    writeFileSync(`${values.out}.json`, JSON.stringify({ model, coordinates }));
    console.log(JSON.stringify({ images: kept.length, seconds: { embed: round(seconds.embed), tsne: round(seconds.tsne), render: round(seconds.render) }, out: values.out }));
  }
}

if (!isMainThread && (workerData as EmbedJob | undefined)?.role === 'gallery-embed') await embedWorker(workerData as EmbedJob);
