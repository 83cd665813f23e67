/**
 * mobileid gallery <folder or photos...>: every photo -> its largest face -> embedding (in the
 * worker threads of a RecognizerPool, embed-photos.ts) -> Barnes-Hut t-SNE -> faces pasted as thumbnails on a grid at
 * their t-SNE position, occupied cells skipped, as in the MobileID paper's picture.
 */
import { writeFileSync } from 'node:fs';
import { canvasSizeFor, faceThumbnail, renderGallery } from '../gallery/layout.js';
import { maxPerplexity, tsne, type TsneStage } from '../gallery/tsne.js';
import { defineCommand } from './args.js';
import { CliError } from './cli-error.js';
import { embeddingModel, embedPhotos, MODEL_OPTION } from './embed-photos.js';
import { imageFormatOf, listImageFiles, readImageFile, writeImageFile } from './files.js';
import { ProgressBar } from './progress.js';

/** A gallery needs this many faces: fewer cannot be laid out by similarity. */
const MIN_FACES = 3;

const TSNE_STAGES: Record<TsneStage, string> = { pca: 'PCA', neighbours: 'k-NN', affinities: 'affinities', optimise: 'optimisation' };

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
      model: MODEL_OPTION,
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
    const { embeddings, boxes, failures, undetected } = await embedPhotos(files, model, { workers: values.workers, mirror: false, detector: {}, assumeFaceCrops: true });
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
