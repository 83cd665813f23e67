/**
 * The teacher (dlib ResNet, 150x150 chip -> 256 + 128) and the 68-point landmark net (112x112)
 * in this engine vs face-api's own nets on tfjs-wasm, one thread each, same input tensors,
 * alternating within every round; medians of ms per face. Last stdout line: JSON.
 *   npx tsx bench/teacher.bench.ts [--rounds N]
 */
import os from 'node:os';
import { loadBundledModel } from '../src/engine/assets.js';
import { Engine } from '../src/engine/engine.js';
import type { Model } from '../src/engine/model.js';
import { faceApiInput, loadFaceApi, preprocess, smoothImage } from '../test/faceapi-reference.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 9;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const PER_ROUND = 10;

async function main() {
  const { tf, faceapi } = await loadFaceApi();
  const engine = await Engine.create();
  const nets: { name: string; model: Model; size: number; theirs: (t: import('@tensorflow/tfjs').Tensor) => Promise<unknown> }[] = [
    {
      name: 'teacher', model: engine.loadModel(await loadBundledModel('teacher')), size: 150,
      theirs: (t) => faceapi.nets.faceRecognitionNet.computeFaceDescriptor(faceApiInput(t)),
    },
    {
      name: 'landmarks68', model: engine.loadModel(await loadBundledModel('landmarks68')), size: 112,
      theirs: (t) => faceapi.nets.faceLandmark68Net.detectLandmarks(faceApiInput(t)),
    },
  ];
  const results: { net: string; runtime: string; ms_per_face: number }[] = [];
  for (const net of nets) {
    const pixels = smoothImage(7, net.size, net.size);
    const ours = preprocess(pixels, net.model.preprocess!);
    const tensor = tf.tensor3d(pixels, [net.size, net.size, 3], 'int32');
    for (let i = 0; i < 3; i++) { net.model.runAll(ours, 1); await net.theirs(tensor); }
    const samples = { mobileid: [] as number[], 'tfjs-wasm': [] as number[] };
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now();
      for (let i = 0; i < PER_ROUND; i++) net.model.runAll(ours, 1);
      samples.mobileid.push((performance.now() - t0) / PER_ROUND);
      t0 = performance.now();
      for (let i = 0; i < PER_ROUND; i++) await net.theirs(tensor);
      samples['tfjs-wasm'].push((performance.now() - t0) / PER_ROUND);
    }
    tensor.dispose();
    for (const [runtime, v] of Object.entries(samples)) results.push({ net: net.name, runtime, ms_per_face: +median(v).toFixed(2) });
    const [a, b] = results.slice(-2);
    console.error(`${net.name}: mobileid ${a.ms_per_face} ms, tfjs-wasm ${b.ms_per_face} ms per face (${(b.ms_per_face / a.ms_per_face).toFixed(2)}x)`);
  }
  console.log(JSON.stringify({ machine: `${os.cpus()[0]?.model} (${os.cpus().length} cores), node ${process.version}`, threads: 1, results }));
  process.exit(0);
}

await main();
