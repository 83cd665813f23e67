/**
 * The f32 depthwise kernel (assembly/depthwise.ts) of this checkout's build against the same kernel
 * built from another git revision, in one process, alternating, on every depthwise layer of the
 * bundled landmarks68 and tiny face detector networks and of the mobile student layout:
 * medians over rounds, the speed-up, and a check that both builds give the same outputs.
 * Usage: npm run bench:depthwise [-- --base REV] [--rounds 9]   (REV default HEAD~1)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBundledModel } from '../src/engine/assets.js';
import type { GraphSpec } from '../src/engine/graph.js';
import { decodeModel, type Tensor } from '../src/engine/model-format.js';
import { inferShapes, isDepthwise } from '../src/engine/plan.js';
import { initWeights, studentGraph } from '../src/face/student-graph.js';
import { seededRandom } from '../src/math/random.js';

interface DepthwiseExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  depthwiseConv2d(
    input: number, inWidth: number, channels: number, output: number, outHeight: number, outWidth: number,
    weights: number, bias: number, kh: number, kw: number, sh: number, sw: number, act: number, alpha: number, slope: number,
  ): void;
}

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const base = option('base', 'HEAD~1');
const rounds = Number(option('rounds', '9'));
if (!/^[\w./~^-]+$/.test(base)) throw new Error(`--base must be a git revision, got ${base}`);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${rounds}`);

/** The release wasm of `revision`'s assembly/ (built with this checkout's asc). */
function buildRevision(revision: string): Buffer {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mobileid-depthwise-'));
  try {
    const archive = execFileSync('git', ['archive', revision, 'assembly', 'asconfig.json']);
    execFileSync('tar', ['x', '-C', dir], { input: archive });
    const asc = path.join(process.cwd(), 'node_modules', '.bin', 'asc');
    execFileSync(asc, ['assembly/index.ts', '--config', 'asconfig.json', '--target', 'release', '--outFile', 'base.wasm', '--textFile', 'base.wat'], { cwd: dir });
    return readFileSync(path.join(dir, 'base.wasm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const instantiate = async (bytes: Buffer) => (await WebAssembly.instantiate(new Uint8Array(bytes), {})).instance.exports as unknown as DepthwiseExports;
const builds: [string, DepthwiseExports][] = [
  [base, await instantiate(buildRevision(base))],
  ['this checkout', await instantiate(readFileSync('build/mobileid.wasm'))],
];

/** Every depthwise layer of `graph`: where, padded input h, w, channels, kernel h, w, stride h, w. */
function depthwiseLayers(network: string, graph: GraphSpec, tensors: Map<string, Tensor>): Shape[] {
  const shapes = inferShapes(graph, tensors);
  return graph.layers.flatMap((l) => {
    if (l.op !== 'conv' || !isDepthwise(l, shapes.get(l.input)![2])) return [];
    const [h, w, c] = shapes.get(l.input)!;
    const [pt, pl, pb, pr] = l.pad;
    return [[`${network} ${l.output}`, h + pt + pb, w + pl + pr, c, l.kernel[0], l.kernel[1], l.stride[0], l.stride[1]] as Shape];
  });
}
type Shape = [where: string, h: number, w: number, c: number, kh: number, kw: number, sh: number, sw: number];

const mobile = studentGraph({ arch: 'mobile', outputs: 128 });
const SHAPES: Shape[] = [
  ...(await Promise.all((['landmarks68', 'detector'] as const).map(async (name) => {
    const { graph, tensors } = decodeModel(await loadBundledModel(name));
    return depthwiseLayers(name, graph, tensors);
  }))).flat(),
  ...depthwiseLayers('mobile student', mobile, initWeights(mobile)),
];
const random = seededRandom(3);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const baseCommit = execFileSync('git', ['rev-parse', '--short', base]).toString().trim();
console.log(`depthwise kernel, ${os.cpus()[0]?.model ?? 'cpu'} (${os.cpus().length} cores), node ${process.version}; base ${base} (${baseCommit}), ${rounds} rounds`);
console.log('| where | input (padded) | base ms | this ms | speed-up | same outputs |\n|---|---|---|---|---|---|');
for (const [where, h, w, c, kh, kw, sh, sw] of SHAPES) {
  const oh = Math.floor((h - kh) / sh) + 1;
  const ow = Math.floor((w - kw) / sw) + 1;
  const input = Float32Array.from({ length: h * w * c }, () => random() * 2 - 1);
  const weights = Float32Array.from({ length: kh * kw * c }, () => random() * 2 - 1);
  const bias = Float32Array.from({ length: c }, () => random() - 0.5);
  const placed = builds.map(([, m]) => {
    const at = Math.ceil(m.heapBase() / 16) * 16;
    const bytes = (input.length + oh * ow * c + weights.length + c) * 4;
    if (m.memory.buffer.byteLength < at + bytes) m.memory.grow(Math.ceil((at + bytes - m.memory.buffer.byteLength) / 65536));
    const f32 = new Float32Array(m.memory.buffer);
    const ptr = { input: at, output: at + input.length * 4, weights: 0, bias: 0 };
    ptr.weights = ptr.output + oh * ow * c * 4;
    ptr.bias = ptr.weights + weights.length * 4;
    f32.set(input, ptr.input >> 2);
    f32.set(weights, ptr.weights >> 2);
    f32.set(bias, ptr.bias >> 2);
    return ptr;
  });
  const run = (i: number) => builds[i][1].depthwiseConv2d(placed[i].input, w, c, placed[i].output, oh, ow, placed[i].weights, placed[i].bias, kh, kw, sh, sw, 1, 0, 0);
  const repeats = Math.max(5, Math.round(2e7 / (oh * ow * c * kh * kw)));
  const times: number[][] = builds.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < builds.length; i++) {
      const t0 = performance.now();
      for (let n = 0; n < repeats; n++) run(i);
      times[i].push((performance.now() - t0) / repeats);
    }
  }
  const outputs = builds.map(([, m], i) => new Float32Array(m.memory.buffer, placed[i].output, oh * ow * c));
  let worst = 0;
  outputs[0].forEach((v, j) => (worst = Math.max(worst, Math.abs(v - outputs[1][j]))));
  const [before, after] = times.map(median);
  console.log(`| ${where} | ${h}x${w}x${c}, ${kh}x${kw}/${sh} | ${before.toFixed(4)} | ${after.toFixed(4)} | ${(before / after).toFixed(2)}x | ${worst <= 1e-5 ? 'yes' : `no (max diff ${worst})`} |`);
}
