// Every wasm kernel against the plain reference (test/reference.ts) on random shapes:
// odd sizes, stride 2, padding, 1 / 3 / 64 channels, channel counts that are not multiples
// of 4 or 8, batch > 1. Error measure: max |engine - reference| / max |reference| <= 1e-5.
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import type { Activation, GraphSpec, Layer } from '../src/engine/graph.js';
import type { Tensor } from '../src/engine/model-format.js';
import { seededRandom } from '../src/math/random.js';
import { maxRelativeError, referenceRun } from './reference.js';

let engine: Engine;
beforeAll(async () => { engine = await Engine.create(); });

const random = seededRandom(42);
const randn = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
const t = (shape: number[]): Tensor => ({ shape, data: randn(shape.reduce((a, b) => a * b, 1)) });

function check(input: [number, number, number], layers: Layer[], tensors: Map<string, Tensor>, batch = 2): number {
  const graph: GraphSpec = { name: 'k', input: { name: 'x', shape: input }, outputs: [layers[layers.length - 1].output], layers };
  const model = engine.loadModel({ graph, tensors });
  const per = input[0] * input[1] * input[2];
  const x = randn(per * batch);
  const out = model.run(x, batch);
  model.dispose();
  let worst = 0;
  const n = out.length / batch;
  for (let b = 0; b < batch; b++) {
    const [ref] = referenceRun(graph, tensors, x.subarray(b * per, (b + 1) * per));
    expect(ref.length).toBe(n);
    worst = Math.max(worst, maxRelativeError(out.subarray(b * n, (b + 1) * n), ref));
  }
  return worst;
}

const activations = (channels: number, tensors: Map<string, Tensor>): Activation[] => {
  tensors.set('slope', t([channels]));
  return [{ kind: 'none' }, { kind: 'relu' }, { kind: 'leaky', alpha: 0.1 }, { kind: 'prelu', slope: 'slope' }];
};

describe('conv2d', () => {
  const cases: [number, number, number, number, number, number, number, [number, number, number, number], number][] = [
    // h, w, cin, cout, k, stride, groups, pad, activation index
    [9, 7, 1, 8, 3, 1, 1, [0, 0, 0, 0], 0],
    [11, 13, 3, 64, 4, 1, 1, [0, 0, 0, 0], 1],
    [12, 10, 64, 64, 3, 1, 1, [1, 1, 1, 1], 1],
    [15, 15, 3, 32, 7, 2, 1, [2, 2, 3, 3], 1],
    [8, 9, 64, 13, 3, 2, 1, [0, 1, 1, 0], 2],
    [7, 6, 5, 5, 1, 1, 1, [0, 0, 0, 0], 3],
    [10, 11, 6, 10, 3, 1, 2, [1, 1, 1, 1], 1],
    [9, 9, 64, 64, 3, 1, 64, [1, 1, 1, 1], 1],
    [9, 8, 13, 13, 3, 2, 13, [0, 0, 1, 1], 2],
    [6, 5, 3, 3, 3, 1, 3, [1, 1, 1, 1], 3],
    [7, 11, 20, 20, 3, 1, 20, [1, 1, 1, 1], 3], // depthwise: two 4-pixel tiles and a remainder, PReLU
    [9, 19, 6, 6, 3, 2, 6, [1, 1, 1, 1], 1], // depthwise, stride 2: tiles, a ragged channel count
  ];
  it.each(cases)('%ix%ix%i -> %i, k%i s%i groups %i pad %j act %i', (h, w, cin, cout, k, s, groups, pad, actIndex) => {
    const tensors = new Map<string, Tensor>([['w', t([k, k, cin / groups, cout])], ['b', t([cout])]]);
    const activation = activations(cout, tensors)[actIndex];
    const layer: Layer = { op: 'conv', input: 'x', output: 'y', weights: 'w', bias: 'b', cout, kernel: [k, k], stride: [s, s], pad, groups, activation };
    expect(check([h, w, cin], [layer], tensors)).toBeLessThanOrEqual(1e-5);
  });
  it('works without a bias', () => {
    const tensors = new Map<string, Tensor>([['w', t([2, 3, 4, 9])]]);
    const layer: Layer = { op: 'conv', input: 'x', output: 'y', weights: 'w', cout: 9, kernel: [2, 3], stride: [1, 2], pad: [0, 0, 0, 0], groups: 1, activation: { kind: 'none' } };
    expect(check([7, 9, 4], [layer], tensors, 3)).toBeLessThanOrEqual(1e-5);
  });
});

describe('pooling', () => {
  it.each([
    ['maxpool', 8, 8, 64, 2, 2, [0, 0, 0, 0]],
    ['maxpool', 9, 7, 3, 3, 2, [0, 0, 1, 1]],
    ['maxpool', 7, 7, 13, 2, 1, [0, 0, 1, 1]],
    ['avgpool', 8, 6, 64, 2, 2, [0, 0, 0, 0]],
    ['avgpool', 9, 9, 5, 3, 2, [1, 1, 1, 1]],
  ] as const)('%s %ix%ix%i k%i s%i pad %j', (op, h, w, c, k, s, pad) => {
    const layer: Layer = { op, input: 'x', output: 'y', kernel: [k, k], stride: [s, s], pad: [...pad] };
    expect(check([h, w, c], [layer], new Map())).toBeLessThanOrEqual(1e-5);
  });
  it('global average pool', () => {
    expect(check([5, 3, 67], [{ op: 'globalavgpool', input: 'x', output: 'y' }], new Map(), 3)).toBeLessThanOrEqual(1e-5);
  });
});

describe('dense', () => {
  it.each([[1, 17, 5], [3, 64, 64], [5, 1280, 500], [32, 100, 13], [7, 3, 1]])('batch %i, %i -> %i', (batch, n, units) => {
    const tensors = new Map<string, Tensor>([['w', t([n, units])], ['b', t([units])]]);
    const activation = activations(units, tensors)[batch % 4];
    const layer: Layer = { op: 'dense', input: 'x', output: 'y', weights: 'w', bias: 'b', units, activation };
    expect(check([1, 1, n], [layer], tensors, batch)).toBeLessThanOrEqual(1e-5);
  });
  it('flattens a spatial input in h, w, c order', () => {
    const tensors = new Map<string, Tensor>([['w', t([4 * 3 * 5, 7])]]);
    const layer: Layer = { op: 'dense', input: 'x', output: 'y', weights: 'w', units: 7, activation: { kind: 'none' } };
    expect(check([4, 3, 5], [layer], tensors, 5)).toBeLessThanOrEqual(1e-5);
  });
});

describe('elementwise', () => {
  it('affine with every activation', () => {
    for (const c of [3, 8, 13]) {
      const tensors = new Map<string, Tensor>([['s', t([c])], ['h', t([c])]]);
      for (const activation of activations(c, tensors)) {
        const layer: Layer = { op: 'affine', input: 'x', output: 'y', scale: 's', shift: 'h', activation };
        expect(check([5, 4, c], [layer], tensors)).toBeLessThanOrEqual(1e-5);
      }
    }
  });
  it('residual add with a zero-padded, smaller shortcut', () => {
    const tensors = new Map<string, Tensor>([['w', t([3, 3, 6, 16])], ['b', t([16])]]);
    const layers: Layer[] = [
      { op: 'conv', input: 'x', output: 'big', weights: 'w', bias: 'b', cout: 16, kernel: [3, 3], stride: [1, 1], pad: [1, 1, 2, 2], groups: 1, activation: { kind: 'none' } },
      { op: 'add', inputs: ['big', 'x'], output: 'y', activation: { kind: 'relu' } },
    ];
    expect(check([7, 6, 6], layers, tensors)).toBeLessThanOrEqual(1e-5);
  });
  it('pad and standalone activations', () => {
    const tensors = new Map<string, Tensor>();
    const acts = activations(9, tensors);
    for (const activation of acts) {
      const layers: Layer[] = [
        { op: 'pad', input: 'x', output: 'p', pad: [1, 0, 2, 3], channels: 9 },
        { op: 'activation', input: 'p', output: 'y', activation },
      ];
      expect(check([4, 5, 7], layers, tensors)).toBeLessThanOrEqual(1e-5);
    }
  });
});
