/**
 * Detector recall on photos that each hold one face (LFW's 13,233 images, the CelebA identity
 * set's 5,820): the share of photos where a face is found, and milliseconds per photo, for
 *   ours          TinyFaceDetector with default options (416, then the fallback input sizes)
 *   ours-416      the same network at 416 only (fallbackSizes: [], the behaviour before the fallback)
 *   ssd           face-api's SSD MobileNetV1 (minConfidence 0.5, its default) on tfjs-wasm, one thread: the anchor
 * and, on face-api's six demo group photos, the faces each finds and how many of ours overlap no
 * SSD face (IoU < 0.3: likely false positives). Photos are decoded once, outside the timing.
 *
 *   npm run detector-recall -- [--every N] [--sets lfw,celeba] [--detectors ours,ours-416,ssd] [--out reports/detector-recall.json]
 *
 * --every N takes every N-th photo (sorted by path) for a quicker estimate; --detectors runs only
 * those named (the full sets take hours with SSD on one core). The JSON report is rewritten every
 * 500 photos (`complete: false`, `photos_done` per set) so a run stopped early still leaves its
 * figures, and printed as the last stdout line at the end.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Tensor3D } from '@tensorflow/tfjs';
import { boxIou, type Detection } from '../src/face/detector.js';
import { FaceRecognizer } from '../src/face/recognizer.js';
import { decodeImage, type RgbImage } from '../src/image.js';
import { faceApiDir, faceApiInput, loadFaceApi } from '../test/faceapi-reference.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('bench/detector-recall.ts', {
  options: {
    every: { type: 'string', default: '1' },
    sets: { type: 'string', default: 'lfw,celeba' },
    detectors: { type: 'string', default: 'ours,ours-416,ssd' },
    out: { type: 'string', default: 'reports/detector-recall.json' },
  },
});
const every = Number(values.every);
if (!(Number.isInteger(every) && every >= 1)) throw new Error(`--every must be a positive integer, got ${values.every}`);

const SETS: Record<string, string> = { lfw: '../shared/data/lfw/images', celeba: '../shared/data/celeba-ids/images' };

function photosUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? photosUnder(path.join(dir, e.name)) : /\.jpe?g$/i.test(e.name) ? [path.join(dir, e.name)] : []));
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;

async function main() {
  const { tf, faceapi } = await loadFaceApi();
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(path.join(faceApiDir, 'model'));
  const ssdOptions = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  const recognizer = await FaceRecognizer.create();
  const allDetectors: Record<string, (image: RgbImage) => Promise<Detection[]>> = {
    ours: async (image) => recognizer.detectFaces(image),
    'ours-416': async (image) => recognizer.detectFaces(image, { fallbackSizes: [] }),
    ssd: async (image) => {
      const tensor = tf.tensor3d(Int32Array.from(image.data), [image.height, image.width, 3], 'int32') as Tensor3D;
      const found = await faceapi.detectAllFaces(faceApiInput(tensor), ssdOptions);
      tensor.dispose();
      return found.map((d) => ({ box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height }, score: d.score }));
    },
  };
  const chosen = values.detectors!.split(',');
  for (const name of chosen) if (!allDetectors[name]) throw new Error(`unknown detector ${name}; known: ${Object.keys(allDetectors).join(', ')}`);
  const detectors = Object.fromEntries(chosen.map((name) => [name, allDetectors[name]]));
  const sets: Record<string, unknown> = {};
  const writeReport = (extra: Record<string, unknown>) => {
    const report = {
      bench: 'detector-recall', every, sets, ...extra,
      detectors: { ours: 'TinyFaceDetector, default options', 'ours-416': 'TinyFaceDetector at 416 only', ssd: "face-api 1.7.15 SSD MobileNetV1, minConfidence 0.5, tfjs-wasm 1 thread" },
      machine: `${process.platform} ${process.arch}, node ${process.version}`,
    };
    mkdirSync(path.dirname(values.out!), { recursive: true });
    writeFileSync(values.out!, JSON.stringify(report, null, 1));
    return report;
  };

  for (const name of values.sets!.split(',')) {
    const dir = SETS[name];
    if (!dir) throw new Error(`unknown set ${name}; known: ${Object.keys(SETS).join(', ')}`);
    const files = photosUnder(dir).filter((_, i) => i % every === 0);
    const found: Record<string, number> = Object.fromEntries(Object.keys(detectors).map((k) => [k, 0]));
    const ms: Record<string, number[]> = Object.fromEntries(Object.keys(detectors).map((k) => [k, []]));
    const missed: Record<string, string[]> = Object.fromEntries(Object.keys(detectors).map((k) => [k, []]));
    const summary = (done: number) => ({
      photos: files.length,
      photos_done: done,
      recall: Object.fromEntries(Object.entries(found).map(([k, n]) => [k, n / done])),
      missed: Object.fromEntries(Object.entries(missed).map(([k, list]) => [k, list.length])),
      ms_per_photo_median: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, median(v)])),
      ms_per_photo_mean: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, v.reduce((s, x) => s + x, 0) / v.length])),
      missed_by_ours: (missed.ours ?? []).slice(0, 50),
    });
    for (const [i, file] of files.entries()) {
      const image = decodeImage(new Uint8Array(readFileSync(file)));
      for (const [detector, detect] of Object.entries(detectors)) {
        const start = performance.now();
        const faces = await detect(image);
        ms[detector].push(performance.now() - start);
        if (faces.length) found[detector]++;
        else missed[detector].push(path.relative(dir, file));
      }
      if (i % 25 === 24 || i === files.length - 1) {
        console.error(`${name} ${i + 1}/${files.length}: ${Object.entries(found).map(([k, n]) => `${k} ${((100 * n) / (i + 1)).toFixed(2)}%`).join(', ')}`);
      }
      if (i % 500 === 499) {
        sets[name] = summary(i + 1);
        writeReport({ complete: false });
      }
    }
    sets[name] = summary(files.length);
  }

  // face-api's demo group photos: faces found, and ours that overlap no SSD face
  const demo = [1, 2, 3, 4, 5, 6].map((i) => {
    const image = decodeImage(new Uint8Array(readFileSync(path.join(faceApiDir, 'demo', `sample${i}.jpg`))));
    return { photo: `sample${i}.jpg`, image };
  });
  const demoReport = [];
  for (const { photo, image } of demo) {
    const ours = await allDetectors.ours(image);
    const ssd = await allDetectors.ssd(image);
    const unmatched = ours.filter((d) => !ssd.some((s) => boxIou(d.box, s.box) >= 0.3)).length;
    demoReport.push({ photo, ours: ours.length, ssd: ssd.length, ours_not_in_ssd: unmatched });
  }
  recognizer.dispose();
  console.log(JSON.stringify(writeReport({ complete: true, demo_photos: demoReport })));
}

await main();
