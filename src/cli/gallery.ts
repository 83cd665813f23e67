/**
 * mobileid gallery <folder or photos...>: every photo -> its largest face -> embedding (in worker
 * threads, gallery-worker.ts) -> Barnes-Hut t-SNE -> faces pasted as thumbnails on a grid at
 * their t-SNE position, occupied cells skipped, as in the MobileID paper's picture.
 */
import { writeFileSync } from 'node:fs';
import { loadBundledModel } from '../engine/assets.js';
import { decodeModel } from '../engine/model-format.js';
import { AssetNotFoundError } from '../errors.js';
import type { Box } from '../face/networks.js';
import { canvasSizeFor, faceThumbnail, renderGallery } from '../gallery/layout.js';
import { maxPerplexity, tsne, type TsneStage } from '../gallery/tsne.js';
import { siblingModule, startWorker } from '../node-worker.js';
import { defineCommand } from './args.js';
import { CliError } from './cli-error.js';
import { imageFormatOf, listImageFiles, readImageFile, readModelFile, writeImageFile } from './files.js';
import type { EmbedJob, EmbedMessage } from './gallery-worker.js';
import { ProgressBar } from './progress.js';

/** A gallery needs this many faces: fewer cannot be laid out by similarity. */
const MIN_FACES = 3;

const TSNE_STAGES: Record<TsneStage, string> = { pca: 'PCA', neighbours: 'k-NN', affinities: 'affinities', optimise: 'optimisation' };

/** The embedding model's bytes, checked here so that a bad --model fails before any worker starts. */
async function embeddingModel(model: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  if (model === 'mobileid' || model === 'teacher') {
    try {
      bytes = await loadBundledModel(model);
    } catch (error) {
      if (error instanceof AssetNotFoundError) {
        throw new CliError(`--model ${model}: this installation has no ${model} model${model === 'teacher' ? ' (the published package does not ship it; a checkout makes it with npm run convert-models)' : ''}`);
      }
      throw error;
    }
  } else {
    bytes = readModelFile('model', model);
  }
  decodeModel(bytes); // a damaged file: ModelFormatError now rather than in every worker
  return bytes;
}

/** One progress bar per t-SNE stage, each finished when the next one starts. */
function tsneProgress(): { onProgress: (stage: TsneStage, fraction: number) => void; finish: () => void } {
  let current: { stage: TsneStage; bar: ProgressBar; percent: number } | undefined;
  return {
    onProgress(stage, fraction) {
      if (current?.stage !== stage) {
        current?.bar.done();
        current = { stage, bar: new ProgressBar(TSNE_STAGES[stage], 100, undefined, true), percent: 0 };
      }
      const percent = Math.round(fraction * 100);
      if (percent > current.percent) current.bar.tick('', percent - current.percent);
      current.percent = Math.max(current.percent, percent);
    },
    finish: () => current?.bar.done(),
  };
}

interface Embedded {
  embeddings: (Float32Array | undefined)[];
  boxes: (Box | undefined)[];
  failures: string[];
  undetected: number;
}

/** The photos split over worker threads, one progress bar over all of them. */
async function embedAll(files: string[], model: Uint8Array, workerCount: number): Promise<Embedded> {
  const result: Embedded = { embeddings: new Array(files.length), boxes: new Array(files.length), failures: [], undetected: 0 };
  const workers = Math.max(1, Math.min(workerCount, files.length));
  const bar = new ProgressBar('decode/detect/embed', files.length);
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const mine = files.map((_, i) => i).filter((i) => i % workers === w);
      const job: EmbedJob = { role: 'gallery-embed', files: mine.map((i) => files[i]), model };
      const worker = startWorker(siblingModule('gallery-worker', import.meta.url), job);
      return new Promise<void>((resolve, reject) => {
        worker.on('message', (m: EmbedMessage) => {
          if (m.type === 'done') return resolve();
          const index = mine[m.index];
          if (m.type === 'failed') result.failures.push(`${files[index]}: ${m.reason}`);
          else {
            result.embeddings[index] = m.embedding;
            result.boxes[index] = m.box;
            if (!m.detected) result.undetected++;
          }
          bar.tick(result.failures.length ? `${result.failures.length} failed` : '');
        });
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`embedding worker exited with code ${code}`))));
      });
    }),
  );
  bar.done();
  return result;
}

export const galleryCommand = defineCommand(
  {
    name: 'gallery',
    summary: 't-SNE gallery picture of a photo collection (similar faces end up close together)',
    args: ['<folder-or-photo>', '[more...]'],
    description: [
      'Takes the largest face of every JPEG/PNG photo (folders are searched recursively; a photo where the',
      'detector finds no face is taken as a centred face crop, and counted), embeds it, lays the faces out',
      'with Barnes-Hut t-SNE and pastes them on a grid at their position; a face whose cell is taken is',
      'skipped, as in the MobileID paper. Needs at least 3 photos. Progress goes to stderr.',
    ].join('\n'),
    options: {
      out: { type: 'string', default: 'gallery.png', value: 'FILE', description: 'the picture (.png, .jpg or .jpeg)' },
      size: {
        type: 'integer', min: 4, value: 'PIXELS', defaultText: 'sized to the faces: about 2 x sqrt(faces) thumbnails per side, at most 5000',
        description: 'side of the square picture',
      },
      thumb: { type: 'integer', default: 100, min: 4, value: 'PIXELS', description: 'side of each face thumbnail (and grid cell)' },
      model: { type: 'string', default: 'mobileid', value: 'mobileid|teacher|FILE', description: 'the embedding: the shipped student, the dlib teacher (checkouts only) or a model file' },
      workers: { type: 'integer', default: 2, min: 1, max: 64, value: 'N', description: 'worker threads for decoding, detection and embedding' },
      limit: { type: 'integer', min: 1, value: 'N', defaultText: 'all photos', description: 'use only the first N photos (sorted by path)' },
      perplexity: { type: 'number', default: 30, min: 1, value: 'P', description: "t-SNE's effective number of neighbours; lowered (with a note) when there are too few faces for it" },
      seed: { type: 'integer', default: 1, value: 'N', description: 'seed of the t-SNE start; the same seed gives the same picture' },
      'free-cell-radius': {
        type: 'integer', default: 0, min: 0, value: 'R',
        description: "0 skips a face whose grid cell is taken, as in the paper; R > 0 moves it to the nearest free cell at most R cells away",
      },
      coords: { type: 'string', value: 'FILE', defaultText: 'not written', description: 'write the 2-D t-SNE position of every face as JSON' },
      json: { type: 'boolean', default: false, description: 'print a JSON summary (images, seconds per stage, placed, skipped, size, out) as the last stdout line' },
    },
    examples: [
      'mobileid gallery photos/ --out gallery.png',
      'mobileid gallery a.jpg b.jpg c.jpg d.jpg e.jpg --out g.png --free-cell-radius 2 --json',
      'mobileid gallery lfw/images --size 5000 --thumb 100 --coords lfw-tsne.json',
    ],
  },
  async ({ values, positionals }) => {
    imageFormatOf('out', values.out);
    if (values.size !== undefined && values.size < values.thumb) throw new CliError(`--size must be >= --thumb (${values.thumb}), got ${values.size}`);
    let files = listImageFiles(positionals);
    if (values.limit !== undefined) files = files.slice(0, values.limit);
    if (files.length < MIN_FACES) throw new CliError(`${positionals.join(' ')}: ${files.length} photo${files.length === 1 ? '' : 's'}; a gallery needs at least ${MIN_FACES}`);
    const model = await embeddingModel(values.model);
    const seconds = { embed: 0, tsne: 0, render: 0 };

    let t0 = performance.now();
    const { embeddings, boxes, failures, undetected } = await embedAll(files, model, values.workers);
    seconds.embed = (performance.now() - t0) / 1000;
    if (failures.length) console.error(`${failures.length} images failed and are left out:\n  ${failures.slice(0, 20).join('\n  ')}`);
    if (undetected) console.error(`${undetected} images had no detected face and were taken as centred face crops`);
    const kept = embeddings.flatMap((e, i) => (e ? [i] : []));
    if (kept.length < MIN_FACES) throw new CliError(`only ${kept.length} of ${files.length} photos could be embedded; a gallery needs at least ${MIN_FACES}`);
    const dim = embeddings[kept[0]]!.length;
    const rows = new Float32Array(kept.length * dim);
    kept.forEach((i, k) => rows.set(embeddings[i]!, k * dim));

    t0 = performance.now();
    const perplexity = Math.min(values.perplexity, maxPerplexity(kept.length));
    if (perplexity < values.perplexity) {
      console.error(`perplexity lowered from ${values.perplexity} to ${Number(perplexity.toFixed(2))}: ${kept.length} faces allow at most (faces - 1) / 3`);
    }
    const progress = tsneProgress();
    const coords = tsne(rows, kept.length, dim, { perplexity, seed: values.seed, onProgress: progress.onProgress });
    progress.finish();
    seconds.tsne = (performance.now() - t0) / 1000;

    // only placed faces are decoded again
    t0 = performance.now();
    const size = values.size ?? canvasSizeFor(kept.length, values.thumb);
    let renderBar: ProgressBar | undefined;
    const gallery = renderGallery(coords, kept.length, (k) => faceThumbnail(readImageFile(files[kept[k]]), boxes[kept[k]]!, values.thumb), {
      canvasSize: size,
      thumbSize: values.thumb,
      freeCellRadius: values['free-cell-radius'],
      onProgress: (_, total) => (renderBar ??= new ProgressBar('render', total)).tick(),
    });
    writeImageFile('out', values.out, gallery.image);
    renderBar?.done();
    seconds.render = (performance.now() - t0) / 1000;

    const round = (s: number) => Math.round(s * 10) / 10;
    console.error(`${kept.length} faces embedded (${round(seconds.embed)} s), t-SNE ${round(seconds.tsne)} s, ${size}x${size} picture: ${gallery.placements.length} placed, ${gallery.skipped.length} skipped (cell taken); wrote ${values.out}`);
    if (values.coords !== undefined) {
      const coordinates = kept.map((i, k) => ({ file: files[i], x: coords[2 * k], y: coords[2 * k + 1] }));
      writeFileSync(values.coords, JSON.stringify({ model: values.model, perplexity, coordinates }));
    }
    if (values.json) {
      console.log(JSON.stringify({
        images: kept.length,
        seconds: { embed: round(seconds.embed), tsne: round(seconds.tsne), render: round(seconds.render) },
        placed: gallery.placements.length,
        skipped: gallery.skipped.length,
        size,
        out: values.out,
      }));
    }
  },
);
