// The integer path (assembly/quantized.ts, engine/quantization.ts, the int8 model format):
// - every integer kernel against a plain integer reference, exactly: i32 sums, then the epilogue
//   in f32 as the kernel does it (convert, multiply, activation, round half to even, clamp);
// - whole requantised networks against the float run of the same (dequantised) weights, within
//   a stated tolerance;
// - the format (i8 tensors, version 2, old files) and the errors for what int8 cannot run.
import { beforeAll, describe, expect, it } from 'vitest';
import { crc32 } from '../src/engine/crc32.js';
import { Engine } from '../src/engine/engine.js';
import type { Activation, GraphSpec, Layer } from '../src/engine/graph.js';
import { decodeModel, encodeModel, type Tensor } from '../src/engine/model-format.js';
import { packInt4Panels, packInt8Panels } from '../src/engine/packing.js';
import { codeRanges, quantizeWeights, SIGNED_CODES, UNSIGNED_CODES } from '../src/engine/quantization.js';
import { InputError, ModelFormatError } from '../src/errors.js';
import { initWeights, studentGraph } from '../src/face/student-graph.js';
import { seededRandom } from '../src/math/random.js';
import { calibrateScales, embeddingAgreement, fourBitDenseWeights, INT4_CODE_MAX, QuantizationError, quantizeModel } from '../src/tools/quantize.js';

let engine: Engine;
beforeAll(async () => { engine = await Engine.create(); });

const random = seededRandom(7);
const uniform = (n: number, limit = 1) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * limit);
const randomTensor = (shape: number[], limit = 1): Tensor => ({ shape, data: uniform(shape.reduce((a, b) => a * b, 1), limit) });
/** 4-bit weights over the whole code range -8..7, one scale per output channel. */
function fourBitTensor(shape: number[]): Tensor {
  const channels = shape[shape.length - 1];
  const codes = Int8Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(random() * 16) - 8);
  const scales = Float32Array.from({ length: channels }, () => 0.01 + random() * 0.03);
  return { shape, data: Float32Array.from(codes, (c, i) => c * scales[i % channels]), quantized: { bits: 4, codes, scales } };
}
/** Input scale 2^-6 and inputs on its grid, so quantising the input is exact. */
const INPUT_SCALE = 1 / 64;
const gridInput = (n: number) => Float32Array.from({ length: n }, () => (Math.round((random() * 2 - 1) * 127) + 0) * INPUT_SCALE);

const f32 = Math.fround;
/** wasm's f32x4.nearest: round half to even. */
function nearestEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function activate(v: number, act: Activation, slope: Float32Array | undefined, c: number): number {
  if (act.kind === 'relu') return Math.max(v, 0);
  if (act.kind === 'leaky') return Math.max(v, f32(v * f32(act.alpha)));
  if (act.kind === 'prelu') return v < 0 ? f32(v * slope![c]) : v;
  return v;
}

/** The epilogue of the integer kernels, written out: codes, or f32 values for a float output. */
function epilogue(acc: number, multiplier: number, act: Activation, slope: Float32Array | undefined, c: number, range: { lo: number; hi: number } | null): number {
  const v = activate(f32(f32(acc) * multiplier), act, slope, c);
  if (!range) return v;
  return Math.min(range.hi, Math.max(range.lo, Math.max(-32768, Math.min(32767, nearestEven(v))))) + 0; // + 0: no -0
}

interface IntLayer {
  inScale: number;
  outScale: number | null; // null: float output
  weights: Tensor; // quantised
  bias?: Float32Array;
  act: Activation;
  slope?: Float32Array;
  range: { lo: number; hi: number } | null;
}

/** Per-channel accumulator constants as the engine derives them (quantization.ts). */
function constants(l: IntLayer, cout: number) {
  const { scales } = l.weights.quantized!;
  const bias = Array.from({ length: cout }, (_, o) => (l.bias ? Math.round(l.bias[o] / (l.inScale * scales[o])) : 0));
  const multiplier = Array.from({ length: cout }, (_, o) => f32((l.inScale * scales[o]) / (l.outScale ?? 1)));
  return { bias, multiplier };
}

/** Integer conv reference on codes: NHWC input codes [h][w][cin], HWIO int8 codes. */
function referenceConv(codes: Int32Array, [h, w, cin]: number[], l: IntLayer, k: number, stride: number, pad: number[]): number[] {
  const cout = l.weights.shape[3];
  const wq = l.weights.quantized!.codes;
  const [pt, pl, pb, pr] = pad;
  const oh = Math.floor((h + pt + pb - k) / stride) + 1;
  const ow = Math.floor((w + pl + pr - k) / stride) + 1;
  const { bias, multiplier } = constants(l, cout);
  const out: number[] = [];
  for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) for (let o = 0; o < cout; o++) {
    let acc = bias[o];
    for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
      const y = oy * stride + ky - pt;
      const x = ox * stride + kx - pl;
      if (y < 0 || y >= h || x < 0 || x >= w) continue;
      for (let ci = 0; ci < cin; ci++) acc += codes[(y * w + x) * cin + ci] * wq[((ky * k + kx) * cin + ci) * cout + o];
    }
    out.push(epilogue(acc, multiplier[o], l.act, l.slope, o, l.range));
  }
  return out;
}

/** Integer depthwise reference on codes: NHWC input codes [h][w][c], weights [kh][kw][1][c]. */
function referenceDepthwise(codes: Int32Array, [h, w, c]: number[], l: IntLayer, [kh, kw]: number[], stride: number, pad: number[]): number[] {
  const wq = l.weights.quantized!.codes;
  const [pt, pl, pb, pr] = pad;
  const oh = Math.floor((h + pt + pb - kh) / stride) + 1;
  const ow = Math.floor((w + pl + pr - kw) / stride) + 1;
  const { bias, multiplier } = constants(l, c);
  const out: number[] = [];
  for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) for (let o = 0; o < c; o++) {
    let acc = bias[o];
    for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
      const y = oy * stride + ky - pt;
      const x = ox * stride + kx - pl;
      if (y >= 0 && y < h && x >= 0 && x < w) acc += codes[(y * w + x) * c + o] * wq[(ky * kw + kx) * c + o];
    }
    out.push(epilogue(acc, multiplier[o], l.act, l.slope, o, l.range));
  }
  return out;
}

function referenceDense(codes: Int32Array, l: IntLayer): number[] {
  const [n, units] = l.weights.shape;
  const wq = l.weights.quantized!.codes;
  const { bias, multiplier } = constants(l, units);
  return Array.from({ length: units }, (_, o) => {
    let acc = bias[o];
    for (let i = 0; i < n; i++) acc += codes[i] * wq[i * units + o];
    return epilogue(acc, multiplier[o], l.act, l.slope, o, l.range);
  });
}

/** Element-wise equality without a deep-equality walk over large arrays (slow). */
function expectSame(got: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(got.length).toBe(expected.length);
  const first = Array.from({ length: got.length }, (_, i) => i).find((i) => !Object.is(got[i], expected[i]));
  expect(first === undefined ? 'all equal' : `index ${first}: ${got[first]} vs ${expected[first]}`).toBe('all equal');
}

const identityPool = (input: string, output: string): Layer => ({ op: 'maxpool', input, output, kernel: [1, 1], stride: [1, 1], pad: [0, 0, 0, 0] });

/** Runs a one-layer int8 model; with `codesOut` a 1x1 max pool follows, so the layer writes codes. */
function runInteger(shape: [number, number, number], layer: Layer, tensors: Map<string, Tensor>, scales: Record<string, number>, x: Float32Array, batch: number, codesOut: boolean) {
  const layers = codesOut ? [layer, identityPool(layer.output, 'z')] : [layer];
  if (codesOut) scales = { ...scales, z: scales[layer.output] };
  const graph: GraphSpec = { name: 'q', input: { name: 'x', shape }, outputs: [layers[layers.length - 1].output], layers, quantization: { activations: scales } };
  const model = engine.loadModel(decodeModel(encodeModel(graph, tensors)), { batch });
  expect(model.precision).toBe('int8');
  const out = model.run(x, batch);
  model.dispose();
  return out;
}

const ACTIVATIONS: Activation[] = [{ kind: 'none' }, { kind: 'relu' }, { kind: 'leaky', alpha: 0.1 }, { kind: 'prelu', slope: 'slope' }];

describe('integer kernels, exactly as the plain integer reference', () => {
  const convCases: [number, number, number, number, number, number, number[], number][] = [
    // h, w, cin, cout, k, stride, pad, activation index
    // >= 256 output pixels: i16 weight panels (conv2dInt8Wide); fewer: int8 panels (conv2dInt8)
    [23, 47, 3, 64, 4, 1, [0, 0, 0, 0], 1], // the student's conv1 (fewer rows): 48-long K, rows of 12
    [30, 21, 7, 13, 3, 1, [1, 1, 1, 1], 3], // wide panels with odd rows, cout 13, padding, PReLU
    [12, 10, 64, 64, 3, 1, [0, 0, 0, 0], 1],
    [7, 9, 5, 13, 3, 1, [0, 0, 0, 0], 0], // odd kernel rows (15 codes), cout not a multiple of 8
    [5, 4, 16, 20, 3, 1, [1, 1, 1, 1], 1], // padded, width below the 4-pixel tile
    [9, 11, 3, 8, 3, 2, [0, 1, 1, 0], 2], // stride 2, uneven padding
    [6, 7, 7, 5, 1, 1, [0, 0, 0, 0], 3], // 1x1, odd cin, PReLU
  ];
  it.each(convCases)('conv %ix%ix%i -> %i, k%i s%i pad %j act %i', (h, w, cin, cout, k, stride, pad, actIndex) => {
    const weights = quantizeWeights(randomTensor([k, k, cin, cout]));
    const bias = uniform(cout, 0.5);
    const slope = uniform(cout, 0.5);
    const act = ACTIVATIONS[actIndex];
    const tensors = new Map<string, Tensor>([['w', weights], ['b', { shape: [cout], data: bias }], ['slope', { shape: [cout], data: slope }]]);
    const layer: Layer = { op: 'conv', input: 'x', output: 'y', weights: 'w', bias: 'b', cout, kernel: [k, k], stride: [stride, stride], pad: pad as [number, number, number, number], groups: 1, activation: act };
    const outScale = 0.05;
    const batch = 2;
    const x = gridInput(h * w * cin * batch);
    for (const codesOut of [true, false]) {
      const out = runInteger([h, w, cin], layer, tensors, { x: INPUT_SCALE, y: outScale }, x, batch, codesOut);
      const range = codesOut ? (act.kind === 'relu' ? UNSIGNED_CODES : SIGNED_CODES) : null;
      const per = out.length / batch;
      for (let b = 0; b < batch; b++) {
        const codes = Int32Array.from(x.subarray(b * h * w * cin, (b + 1) * h * w * cin), (v) => Math.round(v / INPUT_SCALE));
        const expected = referenceConv(codes, [h, w, cin], { inScale: INPUT_SCALE, outScale: codesOut ? outScale : null, weights, bias, act, slope, range }, k, stride, pad);
        const got = Array.from(out.subarray(b * per, (b + 1) * per), (v) => (codesOut ? Math.round(v / outScale) + 0 : v));
        expectSame(got, expected);
      }
    }
  });

  const depthwiseCases: [number, number, number, number[], number, number[], number][] = [
    // h, w, channels, kernel, stride, pad, activation index
    [9, 7, 16, [3, 3], 1, [1, 1, 1, 1], 1],
    [8, 9, 13, [3, 3], 2, [1, 1, 1, 1], 3], // channels not a multiple of 8 (the last load reads the next pixel's codes), PReLU
    [7, 6, 24, [7, 6], 1, [0, 0, 0, 0], 0], // a global depthwise layer (the mobile student's gdc, narrower)
    [6, 5, 5, [2, 3], 1, [0, 1, 1, 0], 2], // fewer than 8 channels, uneven padding
  ];
  it.each(depthwiseCases)('depthwise %ix%ix%i, k%j s%i pad %j act %i', (h, w, c, kernel, stride, pad, actIndex) => {
    const weights = quantizeWeights(randomTensor([kernel[0], kernel[1], 1, c]));
    const bias = uniform(c, 0.5);
    const slope = uniform(c, 0.5);
    const act = ACTIVATIONS[actIndex];
    const tensors = new Map<string, Tensor>([['w', weights], ['b', { shape: [c], data: bias }], ['slope', { shape: [c], data: slope }]]);
    const layer: Layer = {
      op: 'conv', input: 'x', output: 'y', weights: 'w', bias: 'b', cout: c, kernel: kernel as [number, number], stride: [stride, stride],
      pad: pad as [number, number, number, number], groups: c, activation: act,
    };
    const outScale = 0.02;
    const batch = 2;
    const x = gridInput(h * w * c * batch);
    for (const codesOut of [true, false]) {
      const out = runInteger([h, w, c], layer, tensors, { x: INPUT_SCALE, y: outScale }, x, batch, codesOut);
      const range = codesOut ? (act.kind === 'relu' ? UNSIGNED_CODES : SIGNED_CODES) : null;
      const per = out.length / batch;
      for (let b = 0; b < batch; b++) {
        const codes = Int32Array.from(x.subarray(b * h * w * c, (b + 1) * h * w * c), (v) => Math.round(v / INPUT_SCALE));
        const expected = referenceDepthwise(codes, [h, w, c], { inScale: INPUT_SCALE, outScale: codesOut ? outScale : null, weights, bias, act, slope, range }, kernel, stride, pad);
        const got = Array.from(out.subarray(b * per, (b + 1) * per), (v) => (codesOut ? Math.round(v / outScale) + 0 : v));
        expectSame(got, expected);
      }
    }
  });

  it.each([0, 1, 2])('residual add on codes (a 1x1 conv beside its own input), act %i', (actIndex) => {
    const [h, w, c] = [7, 6, 5]; // 210 codes: 26 vectors of 8 and a tail of 2
    const weights = quantizeWeights(randomTensor([1, 1, c, c]));
    const bias = uniform(c, 0.2);
    const act = ACTIVATIONS[actIndex];
    const tensors = new Map<string, Tensor>([['w', weights], ['b', { shape: [c], data: bias }]]);
    const scales = { x: INPUT_SCALE, c: 0.03, y: 0.025, z: 0.025 };
    const graph: GraphSpec = {
      name: 'q', input: { name: 'x', shape: [h, w, c] }, outputs: ['z'], quantization: { activations: scales },
      layers: [
        { op: 'conv', input: 'x', output: 'c', weights: 'w', bias: 'b', cout: c, kernel: [1, 1], stride: [1, 1], pad: [0, 0, 0, 0], groups: 1, activation: { kind: 'none' } },
        { op: 'add', inputs: ['x', 'c'], output: 'y', activation: act }, identityPool('y', 'z'),
      ],
    };
    const model = engine.loadModel(decodeModel(encodeModel(graph, tensors)), { batch: 2 });
    const x = gridInput(2 * h * w * c);
    const out = model.run(x, 2);
    model.dispose();
    const range = act.kind === 'relu' ? UNSIGNED_CODES : SIGNED_CODES;
    const [ma, mb] = [f32(scales.x / scales.y), f32(scales.c / scales.y)];
    for (let b = 0; b < 2; b++) {
      const codes = Int32Array.from(x.subarray(b * h * w * c, (b + 1) * h * w * c), (v) => Math.round(v / INPUT_SCALE));
      const conv = referenceConv(codes, [h, w, c], { inScale: INPUT_SCALE, outScale: scales.c, weights, bias, act: { kind: 'none' }, range: SIGNED_CODES }, 1, 1, [0, 0, 0, 0]);
      const expected = Array.from(codes, (code, i) => {
        const v = activate(f32(f32(code * ma) + f32(conv[i] * mb)), act, undefined, 0);
        return Math.min(range.hi, Math.max(range.lo, Math.max(-32768, Math.min(32767, nearestEven(v))))) + 0;
      });
      expectSame(Array.from(out.subarray(b * h * w * c, (b + 1) * h * w * c), (v) => Math.round(v / scales.z) + 0), expected);
    }
  });

  const denseCases: [number, number, number, number][] = [
    // inputs, units, batch, activation index
    [1280, 128, 1, 1],
    [500, 500, 5, 1], // a 4-row tile and a single row
    [37, 13, 3, 0], // odd inputs, units not a multiple of 8
    [16, 9, 6, 3],
    [18, 8, 5, 1], // 9 pairs: an odd pair after the two-pair steps
  ];
  it.each(denseCases.flatMap(([n, units, batch, act]) => [8, 4].map((bits) => [n, units, batch, act, bits])))('dense %i -> %i, batch %i act %i, %i-bit weights', (n, units, batch, actIndex, bits) => {
    const weights = bits === 8 ? quantizeWeights(randomTensor([n, units], 0.2)) : fourBitTensor([n, units]);
    const bias = uniform(units, 0.5);
    const slope = uniform(units, 0.5);
    const act = ACTIVATIONS[actIndex];
    const tensors = new Map<string, Tensor>([['w', weights], ['b', { shape: [units], data: bias }], ['slope', { shape: [units], data: slope }]]);
    const layer: Layer = { op: 'dense', input: 'x', output: 'y', weights: 'w', bias: 'b', units, activation: act };
    const outScale = 0.1;
    const x = gridInput(n * batch);
    for (const codesOut of [true, false]) {
      const out = runInteger([1, 1, n], layer, tensors, { x: INPUT_SCALE, y: outScale }, x, batch, codesOut);
      const range = codesOut ? (act.kind === 'relu' ? UNSIGNED_CODES : SIGNED_CODES) : null;
      for (let b = 0; b < batch; b++) {
        const codes = Int32Array.from(x.subarray(b * n, (b + 1) * n), (v) => Math.round(v / INPUT_SCALE));
        const expected = referenceDense(codes, { inScale: INPUT_SCALE, outScale: codesOut ? outScale : null, weights, bias, act, slope, range });
        const got = Array.from(out.subarray(b * units, (b + 1) * units), (v) => (codesOut ? Math.round(v / outScale) + 0 : v));
        expectSame(got, expected);
      }
    }
  });

  it.each([[2, 2, [0, 0, 0, 0]], [3, 2, [1, 1, 1, 1]], [3, 1, [0, 1, 2, 0]]] as const)('max pool k%i s%i pad %j on codes (11 channels)', (k, s, pad) => {
    const [h, w, c] = [9, 7, 11];
    const layer: Layer = { op: 'maxpool', input: 'x', output: 'y', kernel: [k, k], stride: [s, s], pad: [...pad] };
    const graph: GraphSpec = { name: 'p', input: { name: 'x', shape: [h, w, c] }, outputs: ['y'], layers: [layer], quantization: { activations: { x: INPUT_SCALE, y: INPUT_SCALE } } };
    const model = engine.loadModel({ graph, tensors: new Map() });
    const x = gridInput(h * w * c);
    const out = model.run(x);
    const [pt, pl, pb, pr] = pad;
    const oh = Math.floor((h + pt + pb - k) / s) + 1;
    const ow = Math.floor((w + pl + pr - k) / s) + 1;
    const expected: number[] = [];
    for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) for (let ch = 0; ch < c; ch++) {
      let m = -Infinity;
      for (let y = oy * s - pt; y < oy * s - pt + k; y++) for (let xx = ox * s - pl; xx < ox * s - pl + k; xx++) {
        if (y >= 0 && y < h && xx >= 0 && xx < w) m = Math.max(m, x[(y * w + xx) * c + ch]);
      }
      expected.push(m);
    }
    expectSame(out, expected);
  });

  it('packs 4-bit weights in panels of 8 outputs, two K pairs per 16 bytes, the first in the low nibbles', () => {
    // 7 inputs (4 pairs, the last half empty: 2 steps), cout 9: two panels
    const codes = Int8Array.from({ length: 7 * 9 }, (_, i) => (i % 16) - 8);
    const packed = packInt4Panels(codes, 7, 9);
    expect(packed.length).toBe(2 * 2 * 16);
    const nibble = (v: number) => (v << 28) >> 28;
    for (let p = 0; p < 2; p++) for (let s = 0; s < 2; s++) for (let j = 0; j < 8; j++) for (let t = 0; t < 2; t++) {
      const byte = packed[(p * 2 + s) * 16 + j * 2 + t];
      const o = p * 8 + j;
      const code = (i: number) => (i < 7 && o < 9 ? codes[i * 9 + o] : 0);
      expect([nibble(byte), nibble(byte >> 4)]).toEqual([code(4 * s + t), code(4 * s + 2 + t)]);
    }
  });

  it('packs int8 weights in panels of 8 outputs with K in pairs, rows padded to even length', () => {
    // rows 2 of length 3, cout 9: two panels, 2 pairs per row
    const codes = Int8Array.from({ length: 6 * 9 }, (_, i) => (i % 120) - 60);
    const packed = packInt8Panels(codes, 2, 3, 9);
    expect(packed.length).toBe(2 * 2 * 2 * 16);
    for (let p = 0; p < 2; p++) for (let r = 0; r < 2; r++) for (let q = 0; q < 2; q++) for (let j = 0; j < 8; j++) for (let t = 0; t < 2; t++) {
      const i = 2 * q + t;
      const o = p * 8 + j;
      const expected = i < 3 && o < 9 ? codes[(r * 3 + i) * 9 + o] : 0;
      expect(packed[((p * 2 + r) * 2 + q) * 16 + j * 2 + t]).toBe(expected);
    }
  });
});

describe('requantised networks against the float run of the same weights', () => {
  // Tolerance: 8-bit activations carry ~0.4% of a tensor's range per step of rounding; through
  // the 4-7 requantised layers of most layouts the outputs stay within 5% of the largest output,
  // through the mobile layout's 17 within 8%, and at cosine >= 0.995.
  it.each(['paper', 'deep', 'conv5', 'mobile', 'deep-res'] as const)('the %s student layout with calibrated scales', (arch) => {
    const graph = studentGraph({ arch, outputs: 128 });
    const model = { graph, tensors: initWeights(graph, 5) };
    const count = 24;
    const inputs = uniform(count * 55 * 47 * 3, 1.6);
    const quantized = quantizeModel(model, calibrateScales(engine, model, inputs, count), { test: true });
    const int8 = engine.loadModel(decodeModel(encodeModel(quantized.graph, quantized.tensors)), { batch: 8 });
    const float = engine.loadModel(quantized, { batch: 8, precision: 'f32' });
    const x = uniform(8 * 55 * 47 * 3, 1.6);
    const a = int8.run(x, 8);
    const b = float.run(x, 8);
    let worst = 0, scale = 0;
    b.forEach((v, i) => { worst = Math.max(worst, Math.abs(a[i] - v)); scale = Math.max(scale, Math.abs(v)); });
    expect(worst / scale).toBeLessThanOrEqual(arch === 'mobile' ? 0.08 : 0.05);
    expect(embeddingAgreement(b, a, 128).minCosine).toBeGreaterThanOrEqual(0.995);
    // batch 1 and inside a batch: the same integers
    expectSame(int8.run(x.subarray(0, 55 * 47 * 3)), a.subarray(0, 128));
    int8.dispose();
    float.dispose();
  });
});

describe('4-bit dense weights (GPTQ) in a requantised network', () => {
  // a small conv net whose first dense layer holds most weights, as the student's fc1 does
  const relu: Activation = { kind: 'relu' };
  const graph: GraphSpec = {
    name: 'fc-heavy', input: { name: 'x', shape: [12, 12, 3] }, outputs: ['fc2'],
    layers: [
      { op: 'conv', input: 'x', output: 'c1', weights: 'c1.w', bias: 'c1.b', cout: 16, kernel: [3, 3], stride: [1, 1], pad: [0, 0, 0, 0], groups: 1, activation: relu },
      { op: 'maxpool', input: 'c1', output: 'p1', kernel: [2, 2], stride: [2, 2], pad: [0, 0, 0, 0] },
      { op: 'dense', input: 'p1', output: 'fc1', weights: 'fc1.w', bias: 'fc1.b', units: 96, activation: relu },
      { op: 'dense', input: 'fc1', output: 'fc2', weights: 'fc2.w', bias: 'fc2.b', units: 32, activation: { kind: 'none' } },
    ],
  };
  const model = {
    graph,
    tensors: new Map<string, Tensor>([
      ['c1.w', randomTensor([3, 3, 3, 16], 0.4)], ['c1.b', randomTensor([16], 0.1)],
      ['fc1.w', randomTensor([400, 96], 0.1)], ['fc1.b', randomTensor([96], 0.1)],
      ['fc2.w', randomTensor([96, 32], 0.2)], ['fc2.b', randomTensor([32], 0.1)],
    ]),
  };
  const count = 64;
  const inputs = uniform(count * 12 * 12 * 3);

  it('stores fc1 in 4 bits (half its bytes, version 3) and stays close to the float run of its weights', () => {
    const fourBit = fourBitDenseWeights(engine, model, inputs, count, ['fc1']);
    const fc1 = fourBit.get('fc1.w')!;
    expect(fc1.bits).toBe(4);
    expect(fc1.codes.every((c) => Math.abs(c) <= INT4_CODE_MAX)).toBe(true);
    const scales = calibrateScales(engine, model, inputs, count);
    const quantized = quantizeModel(model, scales, {}, fourBit);
    const bytes = encodeModel(quantized.graph, quantized.tensors);
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(3);
    const int8Only = quantizeModel(model, scales);
    expect(encodeModel(int8Only.graph, int8Only.tensors).length - bytes.length).toBe(400 * 96 / 2);
    const integer = engine.loadModel(decodeModel(bytes), { batch: 8 });
    const float = engine.loadModel(quantized, { batch: 8, precision: 'f32' });
    const x = uniform(8 * 12 * 12 * 3);
    const a = integer.run(x, 8);
    const b = float.run(x, 8);
    expect(embeddingAgreement(b, a, 32).minCosine).toBeGreaterThanOrEqual(0.995);
    expectSame(integer.run(x.subarray(0, 12 * 12 * 3)), a.subarray(0, 32));
    integer.dispose();
    float.dispose();
  });

  it('refuses layers that are not dense; an empty list (--int4 none) quantises nothing to 4 bits', () => {
    expect(() => fourBitDenseWeights(engine, model, inputs, count, ['c1'])).toThrow(QuantizationError);
    expect(() => fourBitDenseWeights(engine, model, inputs, count, ['nope'])).toThrow(/not a dense layer.*dense layers: fc1, fc2/);
    expect(fourBitDenseWeights(engine, model, inputs, count, []).size).toBe(0); // --int4 none
  });
});

describe('int8 model format and errors', () => {
  const graph = studentGraph({ outputs: 16 });
  const model = { graph, tensors: initWeights(graph, 9) };
  let scales: Record<string, number>;
  beforeAll(() => { scales = calibrateScales(engine, model, uniform(4 * 55 * 47 * 3, 1.6), 4); });

  it('stores i8 codes and per-channel scales exactly, as version 2; float files stay version 1', () => {
    const quantized = quantizeModel(model, scales);
    const bytes = encodeModel(quantized.graph, quantized.tensors);
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(2);
    expect(new DataView(encodeModel(graph, model.tensors).buffer).getUint32(8, true)).toBe(1);
    const decoded = decodeModel(bytes);
    for (const [name, t] of quantized.tensors) {
      expectSame(decoded.tensors.get(name)!.data, t.data);
      if (!t.quantized) continue;
      expectSame(decoded.tensors.get(name)!.quantized!.codes, t.quantized.codes);
      expectSame(decoded.tensors.get(name)!.quantized!.scales, t.quantized.scales);
    }
    expect(decoded.graph.quantization).toEqual(quantized.graph.quantization);
    // the int8 file is about a quarter of the f32 one
    expect(bytes.length).toBeLessThan(encodeModel(graph, model.tensors).length / 3.5);
  });

  it('quantises weights symmetrically per output channel within half a step', () => {
    const t = randomTensor([3, 3, 4, 6]);
    const q = quantizeWeights(t);
    t.data.forEach((v, i) => {
      const s = q.quantized!.scales[i % 6];
      expect(Math.abs(q.data[i] - v)).toBeLessThanOrEqual(s / 2 + 1e-7);
      expect(Math.abs(q.quantized!.codes[i])).toBeLessThanOrEqual(127);
    });
    for (let c = 0; c < 6; c++) expect(Math.max(...Array.from(q.quantized!.codes).filter((_, i) => i % 6 === c).map(Math.abs))).toBe(127);
  });

  it('calibrates a scale as the largest |value| over the inputs (or a percentile of them) over the largest code', () => {
    const inputs = uniform(3 * 55 * 47 * 3, 1.6);
    const largest = inputs.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(calibrateScales(engine, model, inputs, 3).image).toBeCloseTo(largest / 127, 9);
    expect(calibrateScales(engine, model, inputs, 3, { percentile: 50 }).image).toBeLessThan(largest / 127 * 0.6);
    expect(() => calibrateScales(engine, model, inputs, 3, { percentile: 0 })).toThrow(QuantizationError);
  });

  it('measures embedding agreement: plain and centred cosine, relative error', () => {
    const a = Float32Array.from([1, 0, 3, 1, 1, 2]);
    const same = embeddingAgreement(a, a, 3);
    expect([same.meanCosine, same.minCosine, same.meanCentredCosine, same.maxRelativeError]).toEqual([1, 1, 1, 0]);
    const b = Float32Array.from([1, 0, 3, 1, 1, -2]);
    const worse = embeddingAgreement(a, b, 3);
    expect(worse.minCosine).toBeCloseTo(0 / Math.sqrt(6 * 6) + (1 + 1 - 4) / 6, 9);
    expect(worse.maxRelativeError).toBeCloseTo(4 / Math.sqrt(6), 9);
  });

  it('gives every tensor its code range: ReLU outputs unsigned, max pools as their input', () => {
    const ranges = codeRanges(graph);
    expect(ranges.get('image')).toEqual(SIGNED_CODES);
    expect(ranges.get('conv1')).toEqual(UNSIGNED_CODES);
    expect(ranges.get('pool1')).toEqual(UNSIGNED_CODES);
    expect(scales.pool1).toBe(scales.conv1);
  });

  it('refuses grouped convolutions other than depthwise (no integer kernel), naming the layer', () => {
    const grouped: GraphSpec = {
      name: 'grouped', input: { name: 'x', shape: [5, 5, 4] }, outputs: ['y'],
      layers: [{ op: 'conv', input: 'x', output: 'y', weights: 'w', bias: 'b', cout: 4, kernel: [3, 3], stride: [1, 1], pad: [0, 0, 0, 0], groups: 2, activation: { kind: 'none' } }],
    };
    const tensors = new Map<string, Tensor>([['w', randomTensor([3, 3, 2, 4])], ['b', randomTensor([4])]]);
    expect(() => calibrateScales(engine, { graph: grouped, tensors }, uniform(5 * 5 * 4), 1)).toThrow(/layer "y": grouped convolutions other than depthwise/);
  });

  it('rejects what the integer kernels cannot run, with typed errors, and keeps working', () => {
    const quantized = quantizeModel(model, scales);
    expect(() => engine.loadModel(model, { precision: 'int8' })).toThrow(InputError);
    expect(() => engine.loadModel(quantized, { precision: 'fp16' as 'f32' })).toThrow(InputError);
    const noScale = { ...quantized.graph, quantization: { activations: { ...scales, conv2: 0 } } };
    expect(() => engine.loadModel({ graph: noScale, tensors: quantized.tensors })).toThrow(/conv2.*positive activation scale/);
    const poolRescaled = { ...quantized.graph, quantization: { activations: { ...scales, pool1: scales.conv1 * 2 } } };
    expect(() => engine.loadModel({ graph: poolRescaled, tensors: quantized.tensors })).toThrow(/pool1.*keep its input's scale/);
    expect(() => engine.loadModel({ graph: quantized.graph, tensors: model.tensors })).toThrow(/not stored as i8/);
    const avg: GraphSpec = { ...quantized.graph, layers: quantized.graph.layers.map((l) => (l.op === 'maxpool' ? { ...l, op: 'avgpool' } : l)) };
    expect(() => engine.loadModel({ graph: avg, tensors: quantized.tensors })).toThrow(ModelFormatError);
    expect(() => calibrateScales(engine, { graph: avg, tensors: model.tensors }, uniform(55 * 47 * 3), 1)).toThrow(QuantizationError);
    expect(() => calibrateScales(engine, model, uniform(10), 1)).toThrow(QuantizationError);
    // a version-1 file cannot hold i8 tensors
    const bytes = encodeModel(quantized.graph, quantized.tensors);
    const relabelled = bytes.slice();
    const view = new DataView(relabelled.buffer);
    view.setUint32(8, 1, true);
    view.setUint32(relabelled.length - 4, crc32(relabelled.subarray(0, relabelled.length - 4)), true);
    expect(() => decodeModel(relabelled)).toThrow(/unknown dtype i8/);
    // 4-bit weights: version 3, codes and scales exact (odd element count), refused below 3 and in conv layers
    const odd = fourBitTensor([5, 3]);
    const nibbleFile = encodeModel({ ...graph, layers: [] }, new Map([['w', odd]]));
    expect(new DataView(nibbleFile.buffer).getUint32(8, true)).toBe(3);
    const back = decodeModel(nibbleFile).tensors.get('w')!;
    expectSame(back.quantized!.codes, odd.quantized!.codes);
    expectSame(back.quantized!.scales, odd.quantized!.scales);
    expectSame(back.data, odd.data);
    const v2 = nibbleFile.slice();
    new DataView(v2.buffer).setUint32(8, 2, true);
    new DataView(v2.buffer).setUint32(v2.length - 4, crc32(v2.subarray(0, v2.length - 4)), true);
    expect(() => decodeModel(v2)).toThrow(/unknown dtype i4/);
    expect(() => encodeModel(graph, new Map([['w', { ...odd, quantized: { ...odd.quantized!, codes: odd.quantized!.codes.map(() => 9) } }]]))).toThrow(/outside -8..7/);
    const convFourBit = quantizeModel(model, scales, {}, new Map([['conv2.w', fourBitTensor(model.tensors.get('conv2.w')!.shape).quantized!]]));
    expect(() => engine.loadModel(convFourBit)).toThrow(/4-bit weights run in dense layers only/);

    const int8 = engine.loadModel(bytes, { batch: 2 });
    // the input is checked as the kernel quantises it: the first bad value's index, then usable again
    const x = uniform(2 * 55 * 47 * 3, 1.6);
    for (const [at, bad] of [[9000, NaN], [3, Infinity], [2 * 55 * 47 * 3 - 1, -Infinity]]) {
      const broken = x.slice();
      broken[at] = bad;
      expect(() => int8.run(broken, 2)).toThrow(new RegExp(`NaN or Infinity at index ${at}$`));
    }
    const out = int8.run(x, 2);
    expect(out.length).toBe(32);
    // values far past the input's code range are clamped to its ends (codes -127 and 127)
    expectSame(int8.run(Float32Array.from(x, (v) => v * 1e6), 2), int8.run(Float32Array.from(x, (v) => Math.sign(v) * 1e30), 2));
    int8.dispose();
  });
});
