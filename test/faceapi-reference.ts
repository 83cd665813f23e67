/**
 * Test support for the face-api conversions: face-api itself running on tfjs-wasm (one thread,
 * wasm binaries from node_modules, never a CDN) as the reference, and deterministic inputs.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import jpeg from 'jpeg-js';
import type { Preprocess } from '../src/engine/graph.js';
import { seededRandom } from '../src/math/random.js';

const require = createRequire(import.meta.url);
export type Tf = typeof import('@tensorflow/tfjs');
export type FaceApi = typeof import('@vladmandic/face-api/dist/face-api.node-wasm.js');

/** face-api's typings bundle their own copy of tfjs's types: the same runtime tensor, another type. */
export type FaceApiInput = Parameters<FaceApi['toNetInput']>[0];
export const faceApiInput = (tensor: import('@tensorflow/tfjs').Tensor): FaceApiInput => tensor as unknown as FaceApiInput;

export const faceApiDir = path.dirname(require.resolve('@vladmandic/face-api/package.json'));

let loaded: Promise<{ tf: Tf; faceapi: FaceApi }> | undefined;

/** tfjs with the wasm backend and face-api's recognition, landmark and tiny detector nets loaded. */
export function loadFaceApi(): Promise<{ tf: Tf; faceapi: FaceApi }> {
  loaded ??= (async () => {
    const tf = require('@tensorflow/tfjs') as Tf;
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
    wasm.setThreadsCount(1);
    await tf.setBackend('wasm');
    await tf.ready();
    const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
    const modelDir = path.join(faceApiDir, 'model');
    await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
    await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
    await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
    return { tf, faceapi };
  })();
  return loaded;
}

/** A smooth random RGB image (sum of low-frequency waves), integer pixel values 0..255, HWC. */
export function smoothImage(seed: number, height: number, width: number): Float32Array {
  const random = seededRandom(seed);
  const waves = Array.from({ length: 3 }, () =>
    Array.from({ length: 5 }, () => ({
      fy: (random() * 6 * Math.PI) / height,
      fx: (random() * 6 * Math.PI) / width,
      phase: random() * 2 * Math.PI,
      amplitude: 15 + random() * 30,
    })),
  );
  const base = [random(), random(), random()].map((v) => 70 + v * 110);
  const out = new Float32Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let v = base[c];
        for (const w of waves[c]) v += w.amplitude * Math.sin(w.fy * y + w.fx * x + w.phase);
        out[(y * width + x) * 3 + c] = Math.round(Math.min(255, Math.max(0, v)));
      }
    }
  }
  return out;
}

/** One of face-api's demo group photos as an int32 [h, w, 3] tensor. */
export function demoPhoto(tf: Tf, index: number): import('@tensorflow/tfjs').Tensor3D {
  const { width, height, data } = jpeg.decode(readFileSync(path.join(faceApiDir, 'demo', `sample${index}.jpg`)), { useTArray: true });
  const rgb = new Int32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * 4 + c];
  return tf.tensor3d(rgb, [height, width, 3], 'int32');
}

/** Applies a graph's preprocess to raw HWC pixels (batch concatenated), as the pipeline will. */
export function preprocess(pixels: Float32Array, { channelOrder, mean, scale }: Preprocess): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const source = channelOrder === 'rgb' ? c : 2 - c;
      out[i + c] = (pixels[i + source] - mean[c]) * scale[c];
    }
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
