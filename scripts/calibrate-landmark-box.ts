/**
 * Measures how face-api's SSD face boxes relate to the 68 landmarks found inside them, so the
 * pipeline can derive, from a first landmark pass, the box a detector would have given (the
 * "second landmark pass" of src/face/recognizer.ts). Runs face-api (tfjs-wasm) on UTKFace
 * training images zero-padded by 96 px (the SSD misses tight crops otherwise); never on LFW.
 * Prints the medians that src/face/networks.ts hard-codes as LANDMARK_BOX.
 * Usage: npx tsx scripts/calibrate-landmark-box.ts [--count 300]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { decodeImage } from '../src/image.js';

const require = createRequire(import.meta.url);
const count = Number(process.argv[process.argv.indexOf('--count') + 1]) || 300;
const dir = path.resolve('../shared/data/utkface/images');
const PAD = 96;

const tf = require('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
wasm.setThreadsCount(1);
await tf.setBackend('wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);

const files = readdirSync(dir).sort();
const step = Math.floor(files.length / count);
const rows: { side: number; dx: number; dy: number }[] = [];
for (let i = 0; i < count; i++) {
  const img = decodeImage(readFileSync(path.join(dir, files[i * step])));
  const w = img.width + 2 * PAD;
  const h = img.height + 2 * PAD;
  const padded = new Int32Array(w * h * 3);
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) for (let c = 0; c < 3; c++) {
    padded[((y + PAD) * w + x + PAD) * 3 + c] = img.data[(y * img.width + x) * 3 + c];
  }
  const input = tf.tensor3d(padded, [h, w, 3], 'int32');
  const found = await faceapi.detectAllFaces(input, new faceapi.SsdMobilenetv1Options({ minConfidence: 0.3 })).withFaceLandmarks();
  input.dispose();
  if (!found.length) continue;
  const best = found.reduce((a: any, b: any) => {
    const d = (f: any) => Math.hypot(f.detection.box.x + f.detection.box.width / 2 - w / 2, f.detection.box.y + f.detection.box.height / 2 - h / 2);
    return d(a) <= d(b) ? a : b;
  });
  const box = best.detection.box;
  const pts = best.landmarks.positions as { x: number; y: number }[];
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  const extent = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2;
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  rows.push({
    side: Math.max(box.width, box.height) / extent,
    dx: (box.x + box.width / 2 - cx) / extent,
    dy: (box.y + box.height / 2 - cy) / extent,
  });
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const result = { images: rows.length, side: median(rows.map((r) => r.side)), dx: median(rows.map((r) => r.dx)), dy: median(rows.map((r) => r.dy)) };
console.log(JSON.stringify(result));
