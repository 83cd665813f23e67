// Backward kernels and the trainer's forward/backward, checked against finite differences.
//
// Layer by layer (f32, in wasm): the loss 1/2 ||y - t||^2 is exactly quadratic in the weights and
// inputs of a linear layer, so central differences have no truncation error and only f32
// rounding remains; max pooling and ReLU are checked on inputs whose kinks are farther than the
// step (distinct values on a grid, |x| bounded away from 0). Whole networks (the student at its
// real shapes included): the analytic f32 gradient against central differences of the plain f64
// reference forward (test/reference.ts) with a tiny step, exact in f32 storage.
// Error measure: max |analytic - numeric| / max |numeric| over the checked coordinates.
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import type { ConvLayer, DenseLayer, GraphSpec, Layer, Padding } from '../src/engine/graph.js';
import { encodeModel, type Tensor } from '../src/engine/model-format.js';
import { initWeights, studentGraph } from '../src/face/student-graph.js';
import { seededRandom } from '../src/math/random.js';
import { inferShapes } from '../src/engine/plan.js';
import { BATCH_NORM_EPSILON, batchNormNames, foldBatchNorm, normalizedLayers, withBatchNorm } from '../src/tools/train/batch-norm.js';
import { UnsupportedLayerError } from '../src/tools/train/errors.js';
import { TrainingNetwork, type TrainingKernels } from '../src/tools/train/network.js';
import { maxRelativeError, referenceRun } from './reference.js';

let engine: Engine;
beforeAll(async () => { engine = await Engine.create(); });

const random = seededRandom(7);
const uniform = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const tensor = (shape: number[], scale = 0.5): Tensor => ({ shape, data: uniform(count(shape), scale) });

function graphOf(input: [number, number, number], layers: Layer[]): GraphSpec {
  return { name: 'check', input: { name: 'x', shape: input }, outputs: [layers[layers.length - 1].output], layers };
}
const conv = (input: string, output: string, cout: number, k: number, stride = 1, pad: Padding = [0, 0, 0, 0], relu = false): Layer => ({
  op: 'conv', input, output, weights: `${output}.w`, bias: `${output}.b`, cout, kernel: [k, k], stride: [stride, stride], pad, groups: 1,
  activation: { kind: relu ? 'relu' : 'none' },
});
const dense = (input: string, output: string, units: number, relu = false): Layer => ({
  op: 'dense', input, output, weights: `${output}.w`, bias: `${output}.b`, units, activation: { kind: relu ? 'relu' : 'none' },
});
/** The layer with a PReLU instead of its activation. */
const withPrelu = (layer: Layer): Layer => ({ ...layer, activation: { kind: 'prelu', slope: `${layer.output}.slope` } }) as Layer;
/** initWeights' tensors with every PReLU slope drawn from -0.3..0.7 (negative slopes included). */
function randomSlopes(graph: GraphSpec, tensors: Map<string, Tensor>): Map<string, Tensor> {
  for (const layer of graph.layers) {
    if ((layer.op === 'conv' || layer.op === 'dense') && layer.activation.kind === 'prelu') {
      tensors.get(layer.activation.slope)!.data.forEach((_, i, a) => (a[i] = 0.2 + (random() * 2 - 1) * 0.5));
    }
  }
  return tensors;
}
const maxpool = (input: string, output: string, k: number, stride: number, pad: Padding = [0, 0, 0, 0]): Layer => ({
  op: 'maxpool', input, output, kernel: [k, k], stride: [stride, stride], pad,
});

/** Coordinates to perturb: all of a small tensor, else the largest-gradient one plus random ones. */
function pick(gradient: Float32Array, n: number): number[] {
  if (gradient.length <= n) return Array.from(gradient, (_, i) => i);
  let largest = 0;
  for (let i = 1; i < gradient.length; i++) if (Math.abs(gradient[i]) > Math.abs(gradient[largest])) largest = i;
  return [largest, ...Array.from({ length: n - 1 }, () => Math.floor(random() * gradient.length))];
}

interface Case {
  graph: GraphSpec;
  tensors: Map<string, Tensor>;
  input: Float32Array;
  batch: number;
}

/** Analytic gradients of every tensor and of the input, from one accumulate() call. */
function analytic({ graph, tensors, input, batch }: Case, targets: Float32Array) {
  const net = new TrainingNetwork(engine, graph, tensors, batch, { inputGradient: true });
  net.zeroGradients();
  net.accumulate(input, targets, batch);
  const gradients = net.readGradients();
  const inputGradient = net.inputGradient(batch);
  return { net, gradients, inputGradient };
}

/** f32 finite differences through the trainer itself; returns the worst error per tensor (and 'input'). */
function layerCheck(c: Case, step: number, samples = 16, checkInput = true): Record<string, number> {
  const { net, gradients, inputGradient } = analytic(c, targetsFor(c));
  const targets = targetsFor(c);
  const weights = net.layout.flatten(c.tensors);
  const errors: Record<string, number> = {};
  const difference = (vector: Float32Array, i: number, apply: () => void) => {
    const saved = vector[i];
    vector[i] = saved + step;
    apply();
    const plus = net.loss(c.input, targets, c.batch);
    vector[i] = saved - step;
    apply();
    const minus = net.loss(c.input, targets, c.batch);
    vector[i] = saved;
    apply();
    return (plus - minus) / (2 * step);
  };
  for (const entry of net.layout.entries) {
    const g = net.layout.view(gradients, entry.name);
    const coords = pick(g, samples);
    const numeric = coords.map((i) => difference(weights, entry.offset + i, () => net.setWeights(weights)));
    errors[entry.name] = maxRelativeError(coords.map((i) => g[i]), numeric);
  }
  if (checkInput) {
    const coords = pick(inputGradient, samples);
    const numeric = coords.map((i) => difference(c.input, i, () => {}));
    errors.input = maxRelativeError(coords.map((i) => inputGradient[i]), numeric);
  }
  net.dispose();
  if (process.env.SHOW_ERRORS) console.log(JSON.stringify(errors));
  return errors;
}

// targets are fixed per case (seeded from its size), so analytic and numeric passes agree
const targetCache = new WeakMap<Case, Float32Array>();
function targetsFor(c: Case): Float32Array {
  if (!targetCache.has(c)) {
    const outputs = new TrainingNetwork(engine, c.graph, c.tensors, c.batch);
    const size = outputs.outputSize * c.batch;
    outputs.dispose();
    targetCache.set(c, uniform(size));
  }
  return targetCache.get(c)!;
}

function randomTensors(layers: Layer[], input: [number, number, number]): Map<string, Tensor> {
  return initWeights(graphOf(input, layers), Math.floor(random() * 1e9));
}

describe('conv2d backward (dW, db, dX) vs f32 finite differences', () => {
  const cases: [number, number, number, number, number, number, Padding][] = [
    // h, w, cin, cout, k, stride, pad
    [9, 7, 3, 8, 3, 1, [0, 0, 0, 0]],
    [8, 9, 5, 13, 3, 2, [0, 1, 1, 0]],
    [7, 6, 4, 6, 2, 1, [1, 1, 1, 1]],
    [11, 11, 3, 10, 5, 2, [2, 2, 2, 2]],
    [55, 47, 3, 64, 4, 1, [0, 0, 0, 0]], // student conv1
    [26, 22, 64, 64, 3, 1, [0, 0, 0, 0]], // student conv2
    [12, 10, 64, 64, 3, 1, [0, 0, 0, 0]], // student conv3
  ];
  it.each(cases)('%ix%ix%i -> %i, k%i s%i pad %j', (h, w, cin, cout, k, stride, pad) => {
    const layers = [conv('x', 'y', cout, k, stride, pad)];
    const c: Case = { graph: graphOf([h, w, cin], layers), tensors: randomTensors(layers, [h, w, cin]), input: uniform(2 * h * w * cin), batch: 2 };
    // linear layer: the quadratic loss makes central differences exact for any step
    for (const [name, error] of Object.entries(layerCheck(c, 0.25))) expect(error, name).toBeLessThanOrEqual(1e-3);
  });
});

describe('depthwise conv backward (dW, db, dX) vs f32 finite differences', () => {
  const cases: [number, number, number, [number, number], number, Padding][] = [
    // h, w, channels, kernel, stride, pad
    [9, 7, 8, [3, 3], 1, [1, 1, 1, 1]],
    [8, 9, 6, [3, 3], 2, [1, 1, 1, 1]], // a ragged channel count (scalar tail), stride 2
    [7, 6, 13, [2, 3], 1, [0, 1, 1, 0]],
    [7, 6, 12, [7, 6], 1, [0, 0, 0, 0]], // the mobile student's global depthwise layer, smaller
    [55, 47, 64, [3, 3], 2, [1, 1, 1, 1]], // the mobile student's dw2
  ];
  it.each(cases)('%ix%ix%i, k%j s%i pad %j', (h, w, channels, kernel, stride, pad) => {
    const layers: Layer[] = [{ ...(conv('x', 'y', channels, 3, stride, pad) as ConvLayer), kernel, groups: channels }];
    const c: Case = { graph: graphOf([h, w, channels], layers), tensors: randomTensors(layers, [h, w, channels]), input: uniform(2 * h * w * channels), batch: 2 };
    for (const [name, error] of Object.entries(layerCheck(c, 0.25))) expect(error, name).toBeLessThanOrEqual(1e-3);
  });
});

describe('a residual add on the network input', () => {
  it('sums the input gradient over both readers (the conv and the add)', () => {
    const layers: Layer[] = [conv('x', 'c', 5, 3, 1, [1, 1, 1, 1]), { op: 'add', inputs: ['x', 'c'], output: 'y', activation: { kind: 'none' } }];
    const shape: [number, number, number] = [6, 5, 5];
    const c: Case = { graph: graphOf(shape, layers), tensors: randomTensors(layers, shape), input: uniform(2 * count(shape)), batch: 2 };
    for (const [name, error] of Object.entries(layerCheck(c, 0.25))) expect(error, name).toBeLessThanOrEqual(1e-3);
  });
});

describe('dense backward (dW, db, dX) vs f32 finite differences', () => {
  it.each([
    [1280, 500], [500, 500], [500, 422], // student fc1..fc3
    [13, 21], [7, 3], [1, 9],
  ])('%i -> %i', (inputs, units) => {
    const layers = [dense('x', 'y', units)];
    const c: Case = { graph: graphOf([1, 1, inputs], layers), tensors: randomTensors(layers, [1, 1, inputs]), input: uniform(5 * inputs), batch: 5 };
    for (const [name, error] of Object.entries(layerCheck(c, 0.25))) expect(error, name).toBeLessThanOrEqual(1e-3);
  });
});

describe('max pool backward vs f32 finite differences', () => {
  it.each([
    [52, 44, 64, 2, 2, [0, 0, 0, 0]], // student pool1..pool3
    [24, 20, 64, 2, 2, [0, 0, 0, 0]],
    [10, 8, 64, 2, 2, [0, 0, 0, 0]],
    [9, 7, 5, 3, 2, [0, 0, 1, 1]], // overlapping windows, padding, channels % 4 != 0
    [7, 7, 13, 2, 1, [1, 1, 0, 0]],
  ] as [number, number, number, number, number, Padding][])('%ix%ix%i k%i s%i pad %j', (h, w, c, k, stride, pad) => {
    const n = 2 * h * w * c;
    // distinct values 2^-10 apart, shuffled: a step of 2^-13 never changes a window's winner
    const input = Float32Array.from({ length: n }, (_, i) => i * 2 ** -10);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [input[i], input[j]] = [input[j], input[i]];
    }
    const layers = [maxpool('x', 'y', k, stride, pad)];
    const errors = layerCheck({ graph: graphOf([h, w, c], layers), tensors: new Map(), input, batch: 2 }, 2 ** -13, 40);
    expect(errors.input).toBeLessThanOrEqual(1e-3);
  });
});

describe('ReLU backward', () => {
  it('matches f32 finite differences away from the kink', () => {
    const shape: [number, number, number] = [5, 3, 13];
    // |x| >= 0.05: a step of 2^-12 never crosses zero
    const input = Float32Array.from(uniform(2 * count(shape)), (v) => (v < 0 ? v - 0.05 : v + 0.05));
    const layers: Layer[] = [{ op: 'activation', input: 'x', output: 'y', activation: { kind: 'relu' } }];
    const errors = layerCheck({ graph: graphOf(shape, layers), tensors: new Map(), input, batch: 2 }, 2 ** -12, 60);
    expect(errors.input).toBeLessThanOrEqual(1e-3);
  });

  it.each(['conv', 'dense'])('fused into %s gives the gradients of conv/dense followed by a ReLU layer', (op) => {
    const relu: Layer = { op: 'activation', input: 'z', output: 'y', activation: { kind: 'relu' } };
    const fused = op === 'conv' ? [conv('x', 'y', 13, 3, 1, [1, 1, 1, 1], true)] : [dense('x', 'y', 13, true)];
    const separate = op === 'conv' ? [conv('x', 'z', 13, 3, 1, [1, 1, 1, 1]), relu] : [dense('x', 'z', 13), relu];
    const shape: [number, number, number] = [6, 5, 7];
    const tensors = randomTensors(fused, shape);
    for (const [name, t] of [...tensors]) tensors.set(name.replace('y.', 'z.'), t);
    const input = uniform(3 * count(shape));
    const a: Case = { graph: graphOf(shape, fused), tensors, input, batch: 3 };
    const b: Case = { graph: graphOf(shape, separate), tensors, input, batch: 3 };
    const targets = targetsFor(a);
    const ga = analytic(a, targets);
    const gb = analytic(b, targets);
    expect(maxRelativeError(ga.gradients, gb.gradients)).toBeLessThanOrEqual(1e-6);
    expect(maxRelativeError(ga.inputGradient, gb.inputGradient)).toBeLessThanOrEqual(1e-6);
    expect(ga.gradients.some((v) => v !== 0)).toBe(true);
    ga.net.dispose();
    gb.net.dispose();
  });
});

/** RKD's distance term, written from its definition: w 2/(n - 1) sum over pairs of Huber(d/mean d - d_t/mean d_t). */
function relationTerm(outputs: Float64Array[], targets: Float32Array, weight: number): number {
  const dim = outputs[0].length;
  const target = (i: number) => targets.subarray(i * dim, (i + 1) * dim);
  const distance = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.hypot(...Array.from({ length: dim }, (_, k) => a[k] - b[k]));
  const student: number[] = [];
  const teacher: number[] = [];
  for (let i = 0; i < outputs.length; i++) {
    for (let j = i + 1; j < outputs.length; j++) {
      student.push(distance(outputs[i], outputs[j]));
      teacher.push(distance(target(i), target(j)));
    }
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const [ms, mt] = [mean(student), mean(teacher)];
  const huber = (x: number) => (Math.abs(x) <= 1 ? (x * x) / 2 : Math.abs(x) - 0.5);
  return ((weight * 2) / (outputs.length - 1)) * student.reduce((sum, d, p) => sum + huber(d / ms - teacher[p] / mt), 0);
}

/** Whole network: analytic f32 gradients vs central differences of the f64 reference forward. */
function networkCheck(
  graph: GraphSpec, tensors: Map<string, Tensor>, batch: number, samples: number, cosineWeight = 0, relationWeight = 0,
  layers?: string[],
): Record<string, number> {
  const [h, w, c] = graph.input.shape;
  const input = uniform(batch * h * w * c, 1.6);
  const net = new TrainingNetwork(engine, graph, tensors, batch, { cosineWeight, relationWeight });
  const targets = uniform(batch * net.outputSize, 0.5);
  net.zeroGradients();
  net.accumulate(input, targets, batch);
  const gradients = net.readGradients();
  const per = h * w * c;
  const loss = () => {
    let sum = 0;
    const outputs: Float64Array[] = [];
    for (let b = 0; b < batch; b++) {
      const [y] = referenceRun(graph, tensors, input.subarray(b * per, (b + 1) * per));
      outputs.push(y);
      const t = targets.subarray(b * y.length, (b + 1) * y.length);
      let yy = 0, tt = 0, yt = 0;
      for (let j = 0; j < y.length; j++) {
        sum += (y[j] - t[j]) ** 2 / 2;
        yy += y[j] * y[j];
        tt += t[j] * t[j];
        yt += y[j] * t[j];
      }
      sum += cosineWeight * (1 - yt / Math.sqrt(yy * tt));
    }
    if (relationWeight) sum += relationTerm(outputs, targets, relationWeight);
    return sum;
  };
  const step = 2 ** -20; // w +- step is exact in f32 for |w| < 8
  const errors: Record<string, number> = {};
  for (const entry of net.layout.entries) {
    if (layers && !layers.includes(entry.name.split('.')[0])) continue;
    const data = tensors.get(entry.name)!.data;
    const g = net.layout.view(gradients, entry.name);
    const coords = pick(g, samples);
    const numeric = coords.map((i) => {
      const saved = data[i];
      data[i] = saved + step;
      const plus = loss();
      data[i] = saved - step;
      const minus = loss();
      data[i] = saved;
      return (plus - minus) / (2 * step);
    });
    errors[entry.name] = maxRelativeError(coords.map((i) => g[i]), numeric);
  }
  net.dispose();
  if (process.env.SHOW_ERRORS) console.log(JSON.stringify(errors));
  return errors;
}

describe('whole networks vs f64 finite differences', () => {
  it('small net: padded conv, overlapping pool, strided conv, two dense layers, ReLUs', () => {
    const layers = [
      conv('x', 'c1', 9, 3, 1, [1, 1, 1, 1], true), maxpool('c1', 'p1', 3, 2, [0, 0, 1, 1]),
      conv('p1', 'c2', 12, 2, 2, [0, 0, 0, 0], true), dense('c2', 'f1', 17, true), dense('f1', 'f2', 6),
    ];
    const shape: [number, number, number] = [13, 11, 3];
    const errors = networkCheck(graphOf(shape, layers), randomTensors(layers, shape), 3, 12);
    for (const [name, error] of Object.entries(errors)) expect(error, name).toBeLessThanOrEqual(1e-3);
  });

  it('squared error plus the cosine term (the descriptor objective)', () => {
    const layers = [conv('x', 'c1', 5, 3, 1, [0, 0, 0, 0], true), dense('c1', 'f1', 11, true), dense('f1', 'f2', 7)];
    const shape: [number, number, number] = [6, 5, 3];
    const errors = networkCheck(graphOf(shape, layers), randomTensors(layers, shape), 3, 12, 4);
    for (const [name, error] of Object.entries(errors)) expect(error, name).toBeLessThanOrEqual(1e-3);
  });

  it("squared error plus the cosine term plus RKD's distance term over the batch", () => {
    const layers = [conv('x', 'c1', 5, 3, 1, [0, 0, 0, 0], true), dense('c1', 'f1', 11, true), dense('f1', 'f2', 7)];
    const shape: [number, number, number] = [6, 5, 3];
    const errors = networkCheck(graphOf(shape, layers), randomTensors(layers, shape), 5, 12, 4, 25);
    for (const [name, error] of Object.entries(errors)) expect(error, name).toBeLessThanOrEqual(1e-3);
  });

  it('residual blocks: a conv pair added to its input (ReLU after the add), a dense pair likewise', () => {
    const add = (inputs: [string, string], output: string, relu: boolean): Layer => ({ op: 'add', inputs, output, activation: { kind: relu ? 'relu' : 'none' } });
    const layers = [
      conv('x', 'c1', 6, 3, 1, [1, 1, 1, 1], true), // read by c2 and by the add: its gradient is summed
      conv('c1', 'c2', 6, 3, 1, [1, 1, 1, 1], true), conv('c2', 'c3', 6, 3, 1, [1, 1, 1, 1]), add(['c3', 'c1'], 'r1', true),
      maxpool('r1', 'p1', 2, 2), dense('p1', 'f1', 10, true), dense('f1', 'f2', 10), add(['f2', 'f1'], 'r2', false), dense('r2', 'f3', 5),
    ];
    const shape: [number, number, number] = [8, 7, 3];
    const errors = networkCheck(graphOf(shape, layers), randomTensors(layers, shape), 3, 12);
    expect(Object.keys(errors)).toHaveLength(12);
    for (const [name, error] of Object.entries(errors)) expect(error, name).toBeLessThanOrEqual(1e-3);
  });

  it('PReLUs (slopes of either sign) after a conv and a dense layer', () => {
    const layers = [
      withPrelu(conv('x', 'c1', 9, 3, 1, [1, 1, 1, 1])), maxpool('c1', 'p1', 2, 2),
      withPrelu(dense('p1', 'f1', 13)), dense('f1', 'f2', 6),
    ];
    const shape: [number, number, number] = [8, 7, 3];
    const graph = graphOf(shape, layers);
    const tensors = randomSlopes(graph, randomTensors(layers, shape));
    const errors = networkCheck(graph, tensors, 3, 12);
    expect(Object.keys(errors)).toContain('c1.slope');
    expect(Object.keys(errors)).toContain('f1.slope');
    for (const [name, error] of Object.entries(errors)) expect(error, name).toBeLessThanOrEqual(1e-3);
  });

  it.each([['paper', 'relu'], ['deep', 'relu'], ['deep', 'prelu'], ['conv5', 'prelu']] as const)('the %s student with %s (55x47x3 -> 256) at its real shapes', (arch, activation) => {
    const graph = studentGraph({ outputs: 256, arch, activation });
    const errors = networkCheck(graph, initWeights(graph, 11), 1, 2);
    for (const [name, error] of Object.entries(errors)) expect(error, name).toBeLessThanOrEqual(1e-3);
  });

  it('the mobile student with prelu (55x47x3 -> 256) at its real shapes: first, strided, global and last layers', () => {
    // all 19 layers would take three times as long as the deep student; every kind is among these
    const graph = studentGraph({ outputs: 256, arch: 'mobile', activation: 'prelu' });
    const layers = ['conv1', 'dw2', 'pw2', 'dw7', 'gdc', 'fc3'];
    const errors = networkCheck(graph, initWeights(graph, 11), 1, 2, 0, 0, layers);
    expect(Object.keys(errors)).toHaveLength(3 * layers.length - 1); // fc3 has no slope
    for (const [name, error] of Object.entries(errors)) expect(error, name).toBeLessThanOrEqual(1e-3);
  });
});

describe('training forward pass', () => {
  it.each([['paper', 'relu'], ['deep', 'relu'], ['deep', 'prelu'], ['conv5', 'prelu'], ['mobile', 'prelu'], ['deep-res', 'prelu']] as const)('equals engine.loadModel(...).run on the %s student with %s', (arch, activation) => {
    const graph = studentGraph({ outputs: 100, arch, activation });
    const tensors = randomSlopes(graph, initWeights(graph, 3));
    const input = uniform(5 * 55 * 47 * 3, 1.6);
    const model = engine.loadModel(encodeModel(graph, tensors), { batch: 5 });
    const expected = model.run(input, 5);
    model.dispose();
    const net = new TrainingNetwork(engine, graph, tensors, 8);
    const actual = net.forward(input, 5);
    net.dispose();
    expect(Array.from(actual)).toEqual(Array.from(expected));
  });
});

describe('training forward pass with residual adds', () => {
  it('equals engine.loadModel(...).run, batch norm folded', () => {
    const layers: Layer[] = [
      withPrelu(conv('x', 'c1', 8, 3, 1, [1, 1, 1, 1])), conv('c1', 'c2', 8, 3, 1, [1, 1, 1, 1], true),
      { op: 'add', inputs: ['c2', 'c1'], output: 'r', activation: { kind: 'relu' } }, maxpool('r', 'p', 2, 2),
      withPrelu(dense('p', 'f1', 12)), dense('f1', 'f2', 12), { op: 'add', inputs: ['f2', 'f1'], output: 'y', activation: { kind: 'none' } },
    ];
    const shape: [number, number, number] = [9, 8, 3];
    const graph = graphOf(shape, layers);
    const tensors = randomBatchNorm(graph, randomSlopes(graph, initWeights(graph, 9)));
    const input = uniform(4 * count(shape), 1.6);
    const net = new TrainingNetwork(engine, graph, tensors, 4, { batchNorm: true });
    const actual = net.forward(input, 4);
    net.dispose();
    const model = engine.loadModel(encodeModel(graph, foldBatchNorm(graph, tensors)), { batch: 4 });
    const expected = model.run(input, 4);
    model.dispose();
    expect(maxRelativeError(actual, expected)).toBeLessThanOrEqual(1e-5);
  });
});

/** Batch-norm tensors away from the identity: gamma 0.5..1.5, beta +-0.3, running mean +-0.2, variance 0.5..1.5. */
function randomBatchNorm(graph: GraphSpec, tensors: Map<string, Tensor>): Map<string, Tensor> {
  const out = withBatchNorm(graph, tensors);
  for (const layer of normalizedLayers(graph)) {
    const names = batchNormNames(layer);
    for (const [name, centre, spread] of [[names.gamma, 1, 0.5], [names.beta, 0, 0.3], [names.mean, 0, 0.2], [names.variance, 1, 0.5]] as const) {
      out.get(name)!.data.forEach((_, i, a) => (a[i] = centre + (random() * 2 - 1) * spread));
    }
  }
  return out;
}

describe('batch-norm kernels vs plain loops', () => {
  it('statistics, gradient sums and input gradient, on a SIMD width and a ragged channel count', () => {
    const kernels = engine.kernels as unknown as TrainingKernels;
    for (const [rows, channels] of [[7, 8], [9, 5]]) {
      const values = rows * channels;
      const x = uniform(values, 2);
      const g = uniform(values, 1);
      const coefficients = [uniform(channels, 1), uniform(channels, 1), uniform(channels, 1)];
      const arena = engine.arena;
      const bytes = 4 * (2 * values + 3 * channels) + 8 * 4 * channels + 64;
      const at = arena.alloc(bytes);
      const f64At = Math.ceil((at + 4 * (2 * values + 3 * channels)) / 8) * 8;
      const [xAt, gAt, aAt, bAt, dAt] = [at, at + 4 * values, at + 8 * values, at + 8 * values + 4 * channels, at + 8 * values + 8 * channels];
      const [meanAt, inverseStdAt, sumGAt, sumGzAt] = [0, 1, 2, 3].map((k) => f64At + 8 * channels * k);
      arena.f32.set(x, xAt >> 2);
      arena.f32.set(g, gAt >> 2);
      coefficients.forEach((c, k) => arena.f32.set(c, [aAt, bAt, dAt][k] >> 2));
      kernels.batchNormStatistics(xAt, rows, channels, meanAt, inverseStdAt, 1e-5);
      kernels.batchNormGradientSums(gAt, xAt, rows, channels, sumGAt, sumGzAt);
      kernels.batchNormInputGradient(gAt, xAt, rows, channels, aAt, bAt, dAt);
      const f64 = new Float64Array(arena.f32.buffer);
      const read = (ptr: number) => Array.from(f64.subarray(ptr >> 3, (ptr >> 3) + channels));
      for (let c = 0; c < channels; c++) {
        let sum = 0, squares = 0, sumG = 0, sumGz = 0;
        for (let r = 0; r < rows; r++) sum += x[r * channels + c];
        const mean = sum / rows;
        for (let r = 0; r < rows; r++) {
          const k = r * channels + c;
          squares += (x[k] - mean) ** 2;
          sumG += g[k];
          sumGz += g[k] * x[k];
        }
        expect(read(meanAt)[c]).toBeCloseTo(mean, 12);
        expect(read(inverseStdAt)[c]).toBeCloseTo(1 / Math.sqrt(squares / rows + 1e-5), 10);
        expect(read(sumGAt)[c]).toBeCloseTo(sumG, 12);
        expect(read(sumGzAt)[c]).toBeCloseTo(sumGz, 12);
        for (let r = 0; r < rows; r++) {
          const k = r * channels + c;
          const [a, b, d] = coefficients.map((v) => v[c]);
          expect(arena.f32[(gAt >> 2) + k]).toBeCloseTo(Math.fround(a * g[k] + b * x[k] + d), 5);
        }
      }
      arena.release(at, bytes);
    }
  });
});

describe('PReLU backward kernel vs a plain loop', () => {
  it('input gradient and slope gradient (added to what is there), on a SIMD width and a ragged channel count', () => {
    const kernels = engine.kernels as unknown as TrainingKernels;
    for (const [rows, channels] of [[6, 8], [5, 7]]) {
      const values = rows * channels;
      const padded = Math.ceil(channels / 8) * 8;
      const x = uniform(values, 2);
      const g = uniform(values, 1);
      const slope = uniform(padded, 0.5);
      const before = uniform(channels, 1);
      const arena = engine.arena;
      const bytes = 4 * (2 * values + padded + channels);
      const at = arena.alloc(bytes);
      const [xAt, gAt, slopeAt, gradSlopeAt] = [at, at + 4 * values, at + 8 * values, at + 8 * values + 4 * padded];
      arena.f32.set(x, xAt >> 2);
      arena.f32.set(g, gAt >> 2);
      arena.f32.set(slope, slopeAt >> 2);
      arena.f32.set(before, gradSlopeAt >> 2);
      kernels.preluBackward(gAt, xAt, rows, channels, slopeAt, gradSlopeAt);
      for (let c = 0; c < channels; c++) {
        let sum = before[c];
        for (let r = 0; r < rows; r++) {
          const k = r * channels + c;
          if (x[k] < 0) sum += g[k] * x[k];
          expect(arena.f32[(gAt >> 2) + k]).toBe(x[k] < 0 ? Math.fround(g[k] * slope[c]) : g[k]);
        }
        expect(arena.f32[(gradSlopeAt >> 2) + c]).toBeCloseTo(sum, 5);
      }
      arena.release(at, bytes);
    }
  });
});

describe('batch norm in training', () => {
  const shape: [number, number, number] = [7, 6, 3];
  const batch = 4;
  /** Summed loss of the batch in f64, normalising with the batch's statistics: the plain reference. */
  function referenceLoss(graph: GraphSpec, tensors: Map<string, Tensor>, input: Float32Array, targets: Float32Array): number {
    const shapes = inferShapes(graph, tensors);
    const normalized = new Set<Layer>(normalizedLayers(graph));
    const per = count(shape);
    // every tensor's values, image by image
    const tensorsByName = new Map<string, Float64Array[]>([[graph.input.name, Array.from({ length: batch }, (_, b) => Float64Array.from(input.subarray(b * per, (b + 1) * per)))]]);
    let values: Float64Array[] = [];
    for (const layer of graph.layers) {
      if (layer.op === 'add') {
        const [a, b] = layer.inputs.map((name) => tensorsByName.get(name)!);
        values = a.map((v, image) => v.map((x, k) => (layer.activation.kind === 'relu' ? Math.max(0, x + b[image][k]) : x + b[image][k])));
        tensorsByName.set(layer.output, values);
        continue;
      }
      const source = (layer as { input: string }).input;
      const inputShape = shapes.get(source)! as [number, number, number];
      const alone = graphOf(inputShape, [{ ...layer, input: 'x', ...(normalized.has(layer) ? { activation: { kind: 'none' } } : {}) } as Layer]);
      values = tensorsByName.get(source)!.map((v) => referenceRun(alone, tensors, v)[0]);
      tensorsByName.set(layer.output, values);
      if (!normalized.has(layer)) continue;
      const names = batchNormNames(layer as never);
      const [gamma, beta] = [names.gamma, names.beta].map((n) => tensors.get(n)!.data);
      const channels = gamma.length;
      const rows = (batch * values[0].length) / channels;
      const mean = new Float64Array(channels);
      const variance = new Float64Array(channels);
      for (const v of values) v.forEach((z, k) => (mean[k % channels] += z / rows));
      for (const v of values) v.forEach((z, k) => (variance[k % channels] += (z - mean[k % channels]) ** 2 / rows));
      const activation = (layer as ConvLayer | DenseLayer).activation;
      const slope = activation.kind === 'prelu' ? tensors.get(activation.slope)!.data : null;
      values = values.map((v) => v.map((z, k) => {
        const c = k % channels;
        const y = gamma[c] * (z - mean[c]) / Math.sqrt(variance[c] + BATCH_NORM_EPSILON) + beta[c];
        if (y >= 0 || activation.kind === 'none') return y;
        return slope ? slope[c] * y : 0;
      }));
      tensorsByName.set(layer.output, values);
    }
    let loss = 0;
    values.forEach((y, b) => y.forEach((v, j) => (loss += (v - targets[b * y.length + j]) ** 2 / 2)));
    return loss;
  }

  it.each(['relu', 'prelu', 'residual'])('gradients of weights, gamma, beta, slopes and input vs f64 finite differences through the batch statistics (%s)', (kind) => {
    // (without the activations the next normalisation would cancel c1's beta too)
    const activated = (layer: Layer) => (kind === 'prelu' ? withPrelu(layer) : layer);
    const graph = graphOf(shape, kind === 'residual'
      ? [
        conv('x', 'c1', 6, 3, 1, [1, 1, 1, 1], true), conv('c1', 'c2', 6, 3, 1, [1, 1, 1, 1], true),
        { op: 'add', inputs: ['c2', 'c1'], output: 'r', activation: { kind: 'relu' } }, maxpool('r', 'p1', 2, 2),
        dense('p1', 'f1', 9, true), dense('f1', 'f2', 5),
      ]
      : [
        activated(conv('x', 'c1', 6, 3, 1, [1, 1, 1, 1], true)), maxpool('c1', 'p1', 2, 2),
        activated(dense('p1', 'f1', 9, true)), dense('f1', 'f2', 5),
      ]);
    const tensors = randomBatchNorm(graph, randomSlopes(graph, initWeights(graph, 5)));
    const input = uniform(batch * count(shape), 1.6);
    const net = new TrainingNetwork(engine, graph, tensors, batch, { batchNorm: true, inputGradient: true });
    const targets = uniform(batch * net.outputSize, 0.5);
    net.zeroGradients();
    net.accumulate(input, targets, batch);
    const gradients = net.readGradients();
    const inputGradient = net.inputGradient(batch);
    // the f32 network's training-mode loss is the reference's
    expect(net.loss(input, targets, batch, true)).toBeCloseTo(referenceLoss(graph, tensors, input, targets), 3);
    const step = 2 ** -20; // exact in f32 for |w| < 8
    const difference = (data: Float32Array, i: number) => {
      const saved = data[i];
      data[i] = saved + step;
      const plus = referenceLoss(graph, tensors, input, targets);
      data[i] = saved - step;
      const minus = referenceLoss(graph, tensors, input, targets);
      data[i] = saved;
      return (plus - minus) / (2 * step);
    };
    const errors: Record<string, number> = {};
    // a bias before a normalisation is subtracted out again with the mean: no gradient
    const cancelled = new Set(normalizedLayers(graph).map((l) => l.bias));
    const largest = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (const entry of net.layout.entries.filter((e) => !e.statistic)) {
      const g = net.layout.view(gradients, entry.name);
      if (cancelled.has(entry.name)) {
        expect(largest(g), entry.name).toBeLessThan(1e-5 * largest(gradients));
        continue;
      }
      const coords = pick(g, 12);
      errors[entry.name] = maxRelativeError(coords.map((i) => g[i]), coords.map((i) => difference(tensors.get(entry.name)!.data, i)));
    }
    const coords = pick(inputGradient, 12);
    errors.input = maxRelativeError(coords.map((i) => inputGradient[i]), coords.map((i) => difference(input, i)));
    if (process.env.SHOW_ERRORS) console.log(JSON.stringify(errors));
    for (const [name, error] of Object.entries(errors)) expect(error, name).toBeLessThanOrEqual(1e-3);
    // the statistics do not enter the training-mode loss
    const mean = net.layout.entry(batchNormNames(graph.layers[0] as never).mean);
    const before = net.loss(input, targets, batch, true);
    const weights = net.layout.flatten(tensors);
    weights[mean.offset] += 1;
    net.setWeights(weights);
    expect(net.loss(input, targets, batch, true)).toBe(before);
    net.dispose();
  });

  it("writes images x the batch's mean and unbiased variance into the statistics' gradient slots", () => {
    const layers = [conv('x', 'c1', 5, 3)];
    const graph = graphOf(shape, layers);
    const plain = initWeights(graph, 6);
    const input = uniform(batch * count(shape), 1.6);
    const z = new TrainingNetwork(engine, graph, plain, batch).forward(input, batch);
    const net = new TrainingNetwork(engine, graph, randomBatchNorm(graph, plain), batch, { batchNorm: true });
    net.zeroGradients();
    net.accumulate(input, uniform(z.length), batch);
    const gradients = net.readGradients();
    const names = batchNormNames(layers[0] as never);
    const rows = z.length / 5;
    for (let c = 0; c < 5; c++) {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += z[r * 5 + c];
      const mean = sum / rows;
      let squares = 0;
      for (let r = 0; r < rows; r++) squares += (z[r * 5 + c] - mean) ** 2;
      expect(net.layout.view(gradients, names.mean)[c] / batch).toBeCloseTo(mean, 5);
      expect(net.layout.view(gradients, names.variance)[c] / batch).toBeCloseTo(squares / (rows - 1), 4);
    }
    net.dispose();
  });

  it.each([['paper', 'relu'], ['deep', 'relu'], ['deep', 'prelu'], ['conv5', 'prelu'], ['mobile', 'prelu'], ['deep-res', 'prelu']] as const)('folded into the %s student with %s, the model file computes the eval-mode training network', (arch, activation) => {
    const graph = studentGraph({ outputs: 64, arch, activation });
    const tensors = randomBatchNorm(graph, randomSlopes(graph, initWeights(graph, 4)));
    const input = uniform(3 * 55 * 47 * 3, 1.6);
    const net = new TrainingNetwork(engine, graph, tensors, 3, { batchNorm: true });
    const expected = net.forward(input, 3);
    // eval mode differs from batch statistics, which would not give a per-face model
    expect(maxRelativeError(net.forward(input, 3, true), expected)).toBeGreaterThan(1e-2);
    net.dispose();
    const folded = foldBatchNorm(graph, tensors);
    expect([...folded.keys()].sort()).toEqual([...initWeights(graph, 4).keys()].sort());
    const model = engine.loadModel(encodeModel(graph, folded), { batch: 3 });
    const actual = model.run(input, 3);
    model.dispose();
    expect(maxRelativeError(actual, expected)).toBeLessThanOrEqual(1e-5);
  });
});

describe('unsupported graphs', () => {
  const shape: [number, number, number] = [4, 4, 2];
  it.each([
    ['a separate PReLU layer', [{ op: 'activation', input: 'x', output: 'y', activation: { kind: 'prelu', slope: 's' } }] as Layer[]],
    ['a leaky ReLU', [{ ...conv('x', 'y', 4, 3), activation: { kind: 'leaky', alpha: 0.1 } }] as Layer[]],
    ['a grouped convolution other than depthwise (4 channels in 2 groups)', [{ ...conv('x', 'y', 4, 3), groups: 2 }] as Layer[]],
    ['an average pool', [{ op: 'avgpool', input: 'x', output: 'y', kernel: [2, 2], stride: [2, 2], pad: [0, 0, 0, 0] }] as Layer[]],
    ['a branch whose output nothing reads', [conv('x', 'a', 2, 1), conv('x', 'y', 2, 1)]],
    ['an add of different shapes', [conv('x', 'a', 2, 1, 2), { op: 'add', inputs: ['x', 'a'], output: 'y', activation: { kind: 'none' } }] as Layer[]],
  ])('rejects %s', (_what, layers) => {
    const grouped = layers[0].op === 'conv' && layers[0].groups === 2;
    const tensors = new Map<string, Tensor>([
      ['y.w', tensor([3, 3, 2, 4])], ['y.b', tensor([4])], ['s', tensor([2])],
      ['a.w', tensor([1, 1, 2, 2])], ['a.b', tensor([2])],
    ]);
    if (layers.length === 2) tensors.set('y.w', tensor([1, 1, 2, 2])).set('y.b', tensor([2]));
    const input: [number, number, number] = grouped ? [4, 4, 4] : shape;
    expect(() => new TrainingNetwork(engine, graphOf(input, layers), tensors, 1)).toThrow(UnsupportedLayerError);
  });
});
