/**
 * The shipped MobileID student in this engine, in f32 (its float file on the float kernels) and
 * int8 (its int8 file on the integer kernels), beside @tensorflow/tfjs-backend-wasm and
 * onnxruntime-web (wasm) running the float file's weights, one thread each, batch 1 and 32,
 * after warm-up. Runtimes alternate within every round so machine noise hits them alike; medians
 * over rounds are reported. Also the share of wasm SIMD peak (~43.5 GFLOP/s per core on the
 * development machine) each f32 conv layer reaches, and the wasm memory (arena) and file size of
 * the shipped students. Usage: npm run bench [-- --json] [--rounds N] [--student paper|deep|conv5|mobile|deep-res]
 * (--student L: layout L of student-graph.ts with random weights instead, int8 calibrated on
 * the benchmark's random inputs).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-web';
import { BUNDLED_MODELS, loadBundledModel } from '../src/engine/assets.js';
import { Engine } from '../src/engine/engine.js';
import type { GraphSpec } from '../src/engine/graph.js';
import { decodeModel, type DecodedModel, type Tensor } from '../src/engine/model-format.js';
import { inferShapes } from '../src/engine/plan.js';
import { initWeights, isStudentArchitecture, STUDENT_ARCHITECTURES, studentGraph } from '../src/face/student-graph.js';
import { seededRandom } from '../src/math/random.js';
import { calibrateScales, quantizeModel } from '../src/tools/quantize.js';
import { graphOnnx } from './onnx-graph.js';

const PEAK_GFLOPS = 43.5;
const args = process.argv.slice(2);
const json = args.includes('--json');
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 9;
/** --student <layout>: a student layout with random weights instead of the shipped files. */
const studentFlag = args.includes('--student') ? args[args.indexOf('--student') + 1] : null;
if (studentFlag !== null && !isStudentArchitecture(studentFlag)) throw new Error(`--student must be one of ${STUDENT_ARCHITECTURES.join(', ')}`);
const randomLayout = studentFlag;
const packageDir = (pkg: string) => path.join(process.cwd(), 'node_modules', pkg);
const version = (pkg: string) => JSON.parse(readFileSync(path.join(packageDir(pkg), 'package.json'), 'utf8')).version as string;
const log = (...m: unknown[]) => { if (!json) console.log(...m); else console.error(...m); };

type Runner = (nhwc: Float32Array, nchw: Float32Array, batch: number) => Promise<Float32Array> | Float32Array;

function toNchw(x: Float32Array, batch: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < batch; b++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) for (let ch = 0; ch < c; ch++) {
    out[((b * c + ch) * h + y) * w + xx] = x[((b * h + y) * w + xx) * c + ch];
  }
  return out;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function main() {
  const engine = await Engine.create();
  const random = seededRandom(5);
  let graph: GraphSpec;
  let weights: Map<string, Tensor>;
  let int8Model: Uint8Array | DecodedModel;
  if (randomLayout) {
    // the paper layout with the paper's 422 outputs (as earlier versions of this bench ran it), the others with the shipped 128
    graph = studentGraph({ arch: randomLayout, ...(randomLayout === 'paper' ? {} : { outputs: 128 }) });
    weights = initWeights(graph, 2024);
    const calibration = Float32Array.from({ length: 32 * 55 * 47 * 3 }, () => random() * 3.2 - 1.6);
    int8Model = quantizeModel({ graph, tensors: weights }, calibrateScales(engine, { graph, tensors: weights }, calibration, 32));
  } else {
    ({ graph, tensors: weights } = decodeModel(await loadBundledModel('mobileid')));
    int8Model = await loadBundledModel('mobileidInt8');
  }
  const student = randomLayout ? `${randomLayout} layout, random weights` : `${BUNDLED_MODELS.mobileid} and ${BUNDLED_MODELS.mobileidInt8}`;
  log(`student: ${student}`);
  const model = engine.loadModel({ graph, tensors: weights }, { batch: 32 });
  const int8 = engine.loadModel(int8Model, { batch: 32 });
  const [inH, inW, inC] = graph.input.shape;

  setWasmPaths(path.join(packageDir('@tensorflow/tfjs-backend-wasm'), 'dist') + path.sep);
  setThreadsCount(1);
  await tf.setBackend('wasm');
  const tw = new Map<string, tf.Tensor>([...weights].map(([n, t]) => [n, tf.tensor(t.data, t.shape)]));
  const tfjsRun: Runner = (x, _nchw, batch) => tf.tidy(() => {
    const values = new Map<string, tf.Tensor>([[graph.input.name, tf.tensor4d(x, [batch, inH, inW, inC])]]);
    for (const layer of graph.layers) {
      if (!('input' in layer)) throw new Error(`bench: op ${layer.op} has no tfjs counterpart here`);
      const input = values.get(layer.input)!;
      let y: tf.Tensor;
      if (layer.op === 'conv') {
        const [pt, pl, pb, pr] = layer.pad;
        const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [pt, pb], [pl, pr], [0, 0]];
        const filter = tw.get(layer.weights) as tf.Tensor4D;
        const [kh, kw] = layer.kernel;
        // depthwise: our [kh][kw][1][c] is tfjs's [kh][kw][c][multiplier 1]
        y = layer.groups === 1
          ? tf.conv2d(input as tf.Tensor4D, filter, layer.stride as [number, number], pad)
          : tf.depthwiseConv2d(input as tf.Tensor4D, tf.reshape(filter, [kh, kw, layer.cout, 1]) as tf.Tensor4D, layer.stride as [number, number], pad);
        y = tf.add(y, tw.get(layer.bias!)!);
      } else if (layer.op === 'maxpool') {
        y = tf.maxPool(input as tf.Tensor4D, layer.kernel as [number, number], layer.stride as [number, number], 'valid');
      } else if (layer.op === 'dense') {
        y = tf.add(tf.matMul(tf.reshape(input, [batch, -1]) as tf.Tensor2D, tw.get(layer.weights) as tf.Tensor2D), tw.get(layer.bias!)!);
      } else {
        throw new Error(`bench: op ${layer.op} has no tfjs counterpart here`);
      }
      const act = 'activation' in layer ? layer.activation : undefined;
      if (act?.kind === 'relu') y = tf.relu(y);
      else if (act?.kind === 'prelu') y = tf.prelu(y, tw.get(act.slope)!);
      else if (act && act.kind !== 'none') throw new Error(`bench: activation ${act.kind} has no tfjs counterpart here`);
      values.set(layer.output, y);
    }
    return values.get(graph.outputs[0])!.dataSync() as Float32Array;
  });

  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = path.join(packageDir('onnxruntime-web'), 'dist') + path.sep;
  const session = await ort.InferenceSession.create(graphOnnx(graph, weights), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const ortRun: Runner = async (_x, nchw, batch) => {
    const result = await session.run({ input: new ort.Tensor('float32', nchw, [batch, inC, inH, inW]) });
    return result[session.outputNames[0]].data as Float32Array;
  };
  const runners: [string, Runner][] = [
    ['mobileid-f32', (x, _nchw, batch) => model.run(x, batch)],
    ['mobileid-int8', (x, _nchw, batch) => int8.run(x, batch)],
    ['tfjs-wasm', tfjsRun],
    ['ort-web', ortRun],
  ];

  const results: { runtime: string; batch: number; threads: number; ms_per_image: number; images_per_s: number }[] = [];
  for (const batch of [1, 32]) {
    const x = Float32Array.from({ length: batch * inH * inW * inC }, () => random() * 3.2 - 1.6);
    const nchw = toNchw(x, batch, inH, inW, inC);
    // same network, same answer: a benchmark of different computations would be meaningless
    const reference = model.run(x, batch);
    for (const [name, run] of runners) {
      const out = await run(x, nchw, batch);
      let err = 0, scale = 0;
      out.forEach((v, i) => { err = Math.max(err, Math.abs(v - reference[i])); scale = Math.max(scale, Math.abs(reference[i])); });
      log(`batch ${batch}: ${name} max |diff| vs mobileid-f32 = ${(err / scale).toExponential(2)} (relative)`);
      for (let i = 0; i < 5; i++) await run(x, nchw, batch); // warm-up
    }
    const iterations = batch === 1 ? 100 : 6;
    const samples = new Map<string, number[]>(runners.map(([n]) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, run] of runners) {
        const t0 = performance.now();
        for (let i = 0; i < iterations; i++) await run(x, nchw, batch);
        samples.get(name)!.push((performance.now() - t0) / (iterations * batch));
      }
    }
    for (const [name] of runners) {
      const ms = median(samples.get(name)!);
      results.push({ runtime: name, batch, threads: 1, ms_per_image: +ms.toFixed(4), images_per_s: +(1000 / ms).toFixed(1) });
    }
  }

  // conv layers alone, f32 and int8 alternating: achieved GFLOP/s (int8: G multiply-adds x 2 per
  // second) and the f32 share of the measured wasm SIMD peak
  const shapes = inferShapes(graph, weights);
  const layers = graph.layers.flatMap((layer) => (layer.op === 'conv' ? [layer] : [])).map((layer) => {
    const shape = shapes.get(layer.input)!;
    const [kh, kw] = layer.kernel;
    const name = layer.output;
    const g: GraphSpec = {
      name, input: { name: 'x', shape }, outputs: ['y'],
      layers: [{ ...layer, input: 'x', output: 'y', weights: 'w', bias: 'b' }],
    };
    const tensors = new Map<string, Tensor>([['w', weights.get(layer.weights)!], ['b', weights.get(layer.bias!)!]]);
    if (layer.activation.kind === 'prelu') tensors.set(layer.activation.slope, weights.get(layer.activation.slope)!);
    const xin = Float32Array.from({ length: shape[0] * shape[1] * shape[2] }, () => random());
    const float = engine.loadModel({ graph: g, tensors });
    const integer = engine.loadModel(quantizeModel({ graph: g, tensors }, calibrateScales(engine, { graph: g, tensors }, xin, 1)));
    const [oh, ow, cout] = shapes.get(layer.output)!;
    const flops = 2 * oh * ow * cout * kh * kw * (shape[2] / layer.groups);
    const times = { f32: [] as number[], int8: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      for (const [key, m] of [['f32', float], ['int8', integer]] as const) {
        const t0 = performance.now();
        for (let i = 0; i < 200; i++) m.run(xin);
        times[key].push((performance.now() - t0) / 200);
      }
    }
    float.dispose();
    integer.dispose();
    const ms = median(times.f32);
    const int8Ms = median(times.int8);
    const gflops = flops / ms / 1e6;
    return {
      layer: name, ms: +ms.toFixed(4), gflops: +gflops.toFixed(1), peak_fraction: +(gflops / PEAK_GFLOPS).toFixed(2),
      int8_ms: +int8Ms.toFixed(4), int8_gops: +(flops / int8Ms / 1e6).toFixed(1),
    };
  });

  // wasm memory a loaded shipped student occupies (packed weights + activation buffers, batch 1),
  // each in an engine of its own, and its file size
  const memory = [];
  for (const name of ['mobileid', 'mobileidInt8'] as const) {
    const bytes = await loadBundledModel(name).catch(() => null);
    if (!bytes) continue;
    const memoryEngine = await Engine.create();
    const shipped = memoryEngine.loadModel(bytes);
    const parts = shipped.arenaBytes;
    memory.push({
      file: BUNDLED_MODELS[name], precision: shipped.precision, outputs: shipped.outputShapes[0][2], file_bytes: bytes.length, arena_bytes: memoryEngine.memoryBytes,
      weight_bytes: parts.weights, activation_bytes: parts.perImageActivations + parts.batchedActivations, scratch_bytes: parts.scratch,
    });
    memoryEngine.dispose();
  }
  for (const m of memory) {
    log(`memory: ${m.file} (${m.precision}, ${m.outputs} outputs, ${m.file_bytes} bytes) occupies ${(m.arena_bytes / 1e6).toFixed(2)} MB of wasm memory: ` +
      `weights ${m.weight_bytes}, activations ${m.activation_bytes}, scratch ${m.scratch_bytes} bytes`);
  }
  const machine = `${os.cpus()[0]?.model ?? 'unknown cpu'} (${os.cpus().length} cores), node ${process.version}`;
  const versions = { assemblyscript: version('assemblyscript'), '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm'), 'onnxruntime-web': version('onnxruntime-web') };
  log(`\n${machine}\n${JSON.stringify(versions)}\n`);
  log('| runtime | batch | ms/image (median) | images/s |');
  log('|---|---|---|---|');
  for (const r of results) log(`| ${r.runtime} | ${r.batch} | ${r.ms_per_image} | ${r.images_per_s} |`);
  const ratios = [];
  for (const batch of [1, 32]) {
    for (const ours of results.filter((r) => r.runtime.startsWith('mobileid') && r.batch === batch)) {
      for (const other of results.filter((r) => !r.runtime.startsWith('mobileid') && r.batch === batch)) {
        const ratio = +(ours.images_per_s / other.images_per_s).toFixed(2);
        ratios.push({ batch, runtime: ours.runtime, versus: other.runtime, images_per_s_ratio: ratio });
        log(`batch ${batch}: ${ours.runtime} is ${ratio}x ${other.runtime}`);
      }
    }
  }
  log('\n| conv layer | f32 ms | f32 GFLOP/s | share of 43.5 GFLOP/s peak | int8 ms | int8 GOP/s |');
  log('|---|---|---|---|---|---|');
  for (const l of layers) log(`| ${l.layer} | ${l.ms} | ${l.gflops} | ${(l.peak_fraction * 100).toFixed(0)}% | ${l.int8_ms} | ${l.int8_gops} |`);
  console.log(JSON.stringify({ machine, versions, student, results, ratios, conv_layers: layers, memory }));
  process.exit(0);
}

await main();
