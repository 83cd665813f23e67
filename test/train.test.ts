// Training machinery: the loss of the student falls when it regresses a random teacher network;
// workers give the gradient of the main thread; optimisers and schedules against hand
// computations; checkpoints; the prepared-cache dataset, split and preprocessing; target
// standardisation folded into the exported model; model file size; and the distillation run
// end to end (with resume) on synthetic prepared chunks.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { decodeModel, encodeModel, type Tensor } from '../src/engine/model-format.js';
import { STUDENT_WINDOW_SCALE } from '../src/face/align.js';
import { graphCost, initWeights, studentGraph, type StudentActivation, type StudentArchitecture } from '../src/face/student-graph.js';
import { seededRandom } from '../src/math/random.js';
import { CROP_BYTES, PreparedDataError, writeChunk, type PreparedRecord } from '../src/tools/data/cache.js';
import { preprocessCrop, sampleJitter } from '../src/tools/train/augment.js';
import { BATCH_NORM_MOMENTUM, foldBatchNorm, withBatchNorm } from '../src/tools/train/batch-norm.js';
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint } from '../src/tools/train/checkpoint.js';
import { PreparedDataset, splitByKey } from '../src/tools/train/dataset.js';
import { DISTILL_DEFAULTS, runDistillation, type RunRecord } from '../src/tools/train/distill.js';
import { CheckpointError, TrainingError } from '../src/tools/train/errors.js';
import { TrainingNetwork } from '../src/tools/train/network.js';
import { Optimizer } from '../src/tools/train/optimizer.js';
import { BatchComputer } from '../src/tools/train/parallel.js';
import { learningRate } from '../src/tools/train/schedule.js';
import {
  computeIdentityStandardization, computeStandardization, destandardize, exportGraph, foldStandardization, standardize, TargetReader, trainingGraph, unfoldStandardization,
  type Standardization, type TargetSource,
} from '../src/tools/train/targets.js';
import { Trainer } from '../src/tools/train/trainer.js';
import { ParameterLayout } from '../src/tools/train/parameters.js';
import { summarizeCheckpoint } from '../src/tools/train/inspect.js';
import { calibrateBatchNorm, growWeights, grownRateScale, runLogOf } from '../src/tools/train/warm-start.js';

const random = seededRandom(21);
const uniform = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
const IMAGE = 55 * 47 * 3;

let engine: Engine;
let workDir: string;
beforeAll(async () => {
  engine = await Engine.create();
  workDir = mkdtempSync(path.join(tmpdir(), 'mobileid-train-'));
});
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** A random "teacher": the student architecture with other weights, outputs standardised. */
function teacherTargets(images: Float32Array, count: number, outputs: number): Float32Array {
  const graph = studentGraph({ outputs });
  const model = engine.loadModel(encodeModel(graph, initWeights(graph, 999)), { batch: count });
  const raw = model.run(images, count);
  model.dispose();
  for (let j = 0; j < outputs; j++) {
    let mean = 0;
    let squares = 0;
    for (let b = 0; b < count; b++) mean += raw[b * outputs + j] / count;
    for (let b = 0; b < count; b++) squares += (raw[b * outputs + j] - mean) ** 2 / count;
    const std = Math.sqrt(squares) || 1;
    for (let b = 0; b < count; b++) raw[b * outputs + j] = (raw[b * outputs + j] - mean) / std;
  }
  return raw;
}

describe('training the student', () => {
  it('regresses a random teacher: the loss falls clearly within a few steps', async () => {
    const count = 48;
    const outputs = 16;
    const images = uniform(count * IMAGE, 1.6);
    const targets = teacherTargets(images, count, outputs);
    const graph = trainingGraph(outputs, { kind: 'hidden' }, true);
    const computer = await BatchComputer.create({ graph, tensors: initWeights(graph, 5), maxBatch: 16, workers: 0 });
    const optimizer = new Optimizer(computer.layout.size, { kind: 'adam', weightDecay: 0, decayMask: computer.layout.decayMask() });
    const trainer = new Trainer(computer, optimizer, { kind: 'cosine', baseRate: 1e-3, totalSteps: 30, warmupSteps: 3 });
    const fill = (slot: { input: Float32Array; targets: Float32Array }, index: number) => {
      const first = (index * 16) % count;
      slot.input.set(images.subarray(first * IMAGE, (first + 16) * IMAGE));
      slot.targets.set(targets.subarray(first * outputs, (first + 16) * outputs));
      return 16;
    };
    const before = await trainer.evaluate(3, fill);
    const losses: number[] = [];
    await trainer.train(30, fill, (step) => losses.push(step.loss));
    const after = await trainer.evaluate(3, fill);
    await computer.close();
    expect(optimizer.steps).toBe(30);
    expect(losses).toHaveLength(30);
    expect(after.images).toBe(48);
    expect(after.loss).toBeLessThan(0.25 * before.loss);
    // and clearly below the best constant prediction (the targets' mean: outputs / 2 per image)
    expect(after.loss).toBeLessThan(0.8 * (outputs / 2));
  });

  it('computes the same loss and gradient on 2 workers as on the main thread', async () => {
    const graph = studentGraph({ outputs: 24 });
    const tensors = initWeights(graph, 8);
    const input = uniform(7 * IMAGE, 1.6);
    const targets = uniform(7 * 24);
    const results: { loss: number; gradient: Float32Array; zeroWeights: number }[] = [];
    for (const workers of [0, 2]) {
      const computer = await BatchComputer.create({ graph, tensors, maxBatch: 7, workers });
      computer.slots[1].input.set(input);
      computer.slots[1].targets.set(targets);
      const gradient = new Float32Array(computer.layout.size);
      const loss = await computer.gradient(1, 7, gradient);
      // weights written by the main thread reach the workers
      computer.weights.fill(0);
      computer.weightsChanged();
      const zeroWeights = await computer.loss(1, 7);
      await computer.close();
      results.push({ loss, gradient, zeroWeights });
    }
    expect(results[1].loss).toBeCloseTo(results[0].loss, 3);
    let diff = 0;
    let scale = 0;
    results[0].gradient.forEach((g, i) => {
      diff = Math.max(diff, Math.abs(g - results[1].gradient[i]));
      scale = Math.max(scale, Math.abs(g));
    });
    expect(diff / scale).toBeLessThan(1e-5);
    // all-zero weights: the output is 0, the loss is sum t^2 / 2
    const expected = targets.reduce((s, t) => s + (t * t) / 2, 0);
    expect(results[0].zeroWeights).toBeCloseTo(expected, 3);
    expect(results[1].zeroWeights).toBeCloseTo(expected, 3);
  });

  it("hands the relational term's weight to the worker threads (one worker: its shard is the whole batch)", async () => {
    const graph = studentGraph({ outputs: 24 });
    const tensors = initWeights(graph, 8);
    const input = uniform(6 * IMAGE, 1.6);
    const targets = uniform(6 * 24);
    const gradientOf = async (workers: number, relationWeight: number) => {
      const computer = await BatchComputer.create({ graph, tensors, maxBatch: 6, workers, relationWeight });
      computer.slots[0].input.set(input);
      computer.slots[0].targets.set(targets);
      const gradient = new Float32Array(computer.layout.size);
      await computer.gradient(0, 6, gradient);
      await computer.close();
      return gradient;
    };
    const maxDifference = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    const inline = await gradientOf(0, 25);
    const scale = inline.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxDifference(await gradientOf(1, 25), inline) / scale).toBeLessThan(1e-5);
    expect(maxDifference(await gradientOf(1, 0), inline) / scale).toBeGreaterThan(1e-3);
  });
});

describe('batch norm running averages', () => {
  it("blend the workers' batch statistics into the running mean and variance; the rest is trained", async () => {
    const graph = studentGraph({ outputs: 8 });
    const tensors = withBatchNorm(graph, initWeights(graph, 3));
    const input = uniform(6 * IMAGE, 1.6);
    const targets = uniform(6 * 8);
    // each worker normalises its shard (images 0-2, 3-5) with the shard's statistics
    const reference = new TrainingNetwork(engine, graph, tensors, 3, { batchNorm: true });
    reference.zeroGradients();
    reference.accumulate(input.subarray(0, 3 * IMAGE), targets.subarray(0, 24), 3);
    reference.accumulate(input.subarray(3 * IMAGE), targets.subarray(24), 3);
    const statistics = reference.readGradients();
    reference.dispose();
    const computer = await BatchComputer.create({ graph, tensors, maxBatch: 6, workers: 2, batchNorm: true });
    try {
      const before = computer.weights.slice();
      const optimizer = new Optimizer(computer.layout.size, { kind: 'adam', weightDecay: 0, decayMask: computer.layout.decayMask() });
      const trainer = new Trainer(computer, optimizer, { kind: 'cosine', baseRate: 1e-3, totalSteps: 10, warmupSteps: 0 });
      await trainer.train(1, (slot) => {
        slot.input.set(input);
        slot.targets.set(targets);
        return 6;
      });
      expect(computer.layout.statistics.length).toBe(2 * 5); // conv1..3, fc1, fc2
      for (const { offset, length } of computer.layout.statistics) {
        for (let j = offset; j < offset + length; j++) {
          expect(computer.weights[j]).toBeCloseTo(before[j] + BATCH_NORM_MOMENTUM * (statistics[j] / 6 - before[j]), 4);
        }
      }
      const gamma = computer.layout.entry('conv1.bn.gamma');
      expect(computer.weights.subarray(gamma.offset, gamma.offset + gamma.length).some((v, i) => v !== before[gamma.offset + i])).toBe(true);
    } finally {
      await computer.close();
    }
  });
});

describe('batch norm calibration (warm start from a model file)', () => {
  it('undoes the folding: the training network computes the folded model, in both modes on the calibration batch', () => {
    const graph = studentGraph({ outputs: 8, activation: 'prelu' });
    // a "trained" network: random normalisations, folded as at export
    const trained = withBatchNorm(graph, initWeights(graph, 5));
    for (const [name, t] of trained) {
      if (name.endsWith('.bn.gamma')) t.data.forEach((_, i, a) => (a[i] = 0.5 + random()));
      if (name.endsWith('.bn.beta') || name.endsWith('.bn.mean')) t.data.forEach((_, i, a) => (a[i] = random() - 0.5));
      if (name.endsWith('.bn.variance')) t.data.forEach((_, i, a) => (a[i] = 0.2 + random()));
    }
    const folded = foldBatchNorm(graph, trained);
    const count = 6;
    const input = uniform(count * IMAGE, 1.6);
    const model = engine.loadModel(encodeModel(graph, folded), { batch: count });
    const expected = model.run(input, count);
    model.dispose();
    const calibrated = calibrateBatchNorm(engine, graph, folded, input, count);
    const network = new TrainingNetwork(engine, graph, calibrated, count, { batchNorm: true });
    try {
      const close = (actual: Float32Array) => {
        const scale = Math.max(...expected.map(Math.abs));
        expect(Math.max(...actual.map((v, i) => Math.abs(v - expected[i]))) / scale).toBeLessThan(1e-4);
      };
      close(network.forward(input, count, true)); // batch statistics
      close(network.forward(input, count, false)); // running statistics
      // folding the calibrated tensors again gives the model file's tensors back
      const refolded = foldBatchNorm(graph, calibrated);
      for (const [name, t] of folded) {
        refolded.get(name)!.data.forEach((v, i) => expect(v).toBeCloseTo(t.data[i], 4));
      }
      expect(() => network.batchStatistics('nothing')).toThrow(TrainingError);
    } finally {
      network.dispose();
    }
  });
});

describe('target standardisation (folded into the last layer at export)', () => {
  it('undoes the folded standardisation exactly', () => {
    const graph = trainingGraph(3, { kind: 'desc' }, true);
    const tensors = initWeights(graph, 9);
    const s = { mean: Float32Array.of(0.1, -0.2, 0.3), std: Float32Array.of(0.05, 0.05, 0.05) };
    const back = unfoldStandardization(graph, foldStandardization(graph, tensors, s), s);
    for (const [name, t] of tensors) back.get(name)!.data.forEach((v, i) => expect(v).toBeCloseTo(t.data[i], 5));
  });

  it('folds a rotated standardisation: the folded last layer outputs the de-standardised values', () => {
    const graph = trainingGraph(3, { kind: 'desc' }, true);
    const tensors = initWeights(graph, 11);
    // a rotation about the z axis, then per-axis spreads
    const [c, sn] = [Math.cos(0.7), Math.sin(0.7)];
    const s: Standardization = { mean: Float32Array.of(0.1, -0.2, 0.3), std: Float32Array.of(0.05, 0.2, 0.1), basis: Float32Array.of(c, -sn, 0, sn, c, 0, 0, 0, 1) };
    const values = Float32Array.of(0.4, -0.1, 0.25);
    const roundTrip = values.slice();
    standardize(s, roundTrip);
    destandardize(s, roundTrip);
    roundTrip.forEach((v, j) => expect(v).toBeCloseTo(values[j], 6));
    const last = graph.layers.at(-1)!;
    if (last.op !== 'dense') throw new Error('the last layer is dense');
    const input = Float32Array.from({ length: tensors.get(last.weights)!.data.length / 3 }, () => random() - 0.5);
    const dense = (t: Map<string, { data: Float32Array }>) => {
      const w = t.get(last.weights)!.data, b = t.get(last.bias!)!.data;
      return Float32Array.from(b, (bj, j) => input.reduce((sum, x, i) => sum + x * w[i * 3 + j], bj));
    };
    const expected = dense(tensors);
    destandardize(s, expected);
    const folded = foldStandardization(graph, tensors, s);
    dense(folded).forEach((v, j) => expect(v).toBeCloseTo(expected[j], 5));
    const back = unfoldStandardization(graph, folded, s);
    for (const [name, t] of tensors) back.get(name)!.data.forEach((v, i) => expect(v).toBeCloseTo(t.data[i], 5));
  });

  it("identity standardisation: one person's faces vary equally along every axis; mean target variance 1", () => {
    // 4-d targets: 60 identities of 4 images; faces of one person vary 10x less along (1, 1, 0, 0) / sqrt 2
    const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const rows: Float32Array[] = [];
    for (let id = 0; id < 60; id++) {
      const centre = Float32Array.from({ length: 4 }, () => 3 * gauss());
      for (let i = 0; i < 4; i++) {
        const [a, b, c, d] = [0.1 * gauss(), gauss(), gauss(), gauss()];
        rows.push(Float32Array.of(centre[0] + (a + b) / Math.SQRT2, centre[1] + (a - b) / Math.SQRT2, centre[2] + c, centre[3] + d));
      }
    }
    const source: TargetSource = { size: 4, raw: (image, _view, out, at = 0) => out.set(rows[image], at) };
    const images = Int32Array.from(rows.keys());
    const identityOf = (image: number) => `person${Math.floor(image / 4)}`;
    const s = computeIdentityStandardization(source, images, 1, identityOf, 0);
    const standardised = rows.map((r) => { const out = r.slice(); standardize(s, out); return out; });
    expect(standardised.reduce((sum, r) => sum + r.reduce((a, v) => a + v * v, 0), 0) / (rows.length * 4)).toBeCloseTo(1, 4);
    // within-identity variance along each standardised axis: all equal
    const within = [0, 1, 2, 3].map((j) => {
      let sum = 0;
      for (let id = 0; id < 60; id++) {
        const group = standardised.slice(4 * id, 4 * id + 4).map((r) => r[j]);
        const m = group.reduce((a, v) => a + v, 0) / 4;
        sum += group.reduce((a, v) => a + (v - m) ** 2, 0);
      }
      return sum;
    });
    for (const w of within) expect(w / within[0]).toBeCloseTo(1, 3);
    // the quiet axis gets the smallest spread
    const quiet = Float32Array.of(1, 1, 0, 0).map((v) => v / Math.SQRT2);
    const smallest = s.std.indexOf(Math.min(...s.std));
    expect(Math.abs(quiet.reduce((a, v, k) => a + v * s.basis![smallest * 4 + k], 0))).toBeGreaterThan(0.99);
    // shrink 1: one spread for every axis, the global metric rotated
    const flat = computeIdentityStandardization(source, images, 1, identityOf, 1);
    expect(Math.max(...flat.std) - Math.min(...flat.std)).toBeLessThan(1e-6);
    // refusals: shrink outside 0..1; too few identities with two images
    expect(() => computeIdentityStandardization(source, images, 1, identityOf, 2)).toThrow(/shrink must be in 0..1/);
    expect(() => computeIdentityStandardization(source, images, 1, (i) => (i < 4 ? 'one' : null), 0)).toThrow(/degrees of freedom/);
  });
});

describe('gradient clipping', () => {
  it('rescales the averaged gradient to at most clipNorm and reports the norm before clipping', async () => {
    const outputs = 8;
    const images = uniform(16 * IMAGE, 1.6);
    const targets = uniform(16 * outputs, 50); // far targets: a large gradient
    const graph = trainingGraph(outputs, { kind: 'desc' }, true);
    const run = async (clipNorm: number) => {
      const computer = await BatchComputer.create({ graph, tensors: initWeights(graph, 9), maxBatch: 16, workers: 0 });
      const optimizer = new Optimizer(computer.layout.size, { kind: 'sgd', weightDecay: 0, momentum: 0, decayMask: computer.layout.decayMask() });
      const before = computer.weights.slice();
      const trainer = new Trainer(computer, optimizer, { kind: 'step', baseRate: 1, totalSteps: 1, warmupSteps: 0 }, clipNorm);
      let norm = 0;
      await trainer.train(1, (slot) => {
        slot.input.set(images);
        slot.targets.set(targets);
        return 16;
      }, (step) => (norm = step.gradientNorm));
      let squares = 0;
      computer.weights.forEach((w, i) => (squares += (w - before[i]) ** 2));
      const moved = Math.sqrt(squares);
      await computer.close();
      return { norm, moved };
    };
    const free = await run(0);
    expect(free.norm).toBeGreaterThan(1);
    expect(free.moved).toBeCloseTo(free.norm * learningRate(0, { kind: 'step', baseRate: 1, totalSteps: 1, warmupSteps: 0 }), 2);
    const clipped = await run(0.5);
    expect(clipped.norm).toBeCloseTo(free.norm, 4);
    expect(clipped.moved).toBeCloseTo(0.5 * learningRate(0, { kind: 'step', baseRate: 1, totalSteps: 1, warmupSteps: 0 }), 3);
  });
});

describe('optimisers and schedules', () => {
  it('AdamW: bias-corrected moments, decoupled decay on weights only', () => {
    const optimizer = new Optimizer(2, { kind: 'adam', weightDecay: 0.1, decayMask: Uint8Array.from([1, 0]) });
    const w = Float32Array.from([1, 1]);
    optimizer.update(w, Float32Array.from([0.5, -2]), 0.01);
    // step 1: m^ = g, v^ = g^2, so the step is lr * sign(g) (eps negligible); decay lr*0.1*w on w[0]
    expect(w[0]).toBeCloseTo(1 - 0.01 - 0.01 * 0.1, 6);
    expect(w[1]).toBeCloseTo(1 + 0.01, 6);
    optimizer.update(w, Float32Array.from([0.5, 0]), 0.01);
    const m = 0.9 * 0.1 * -2; // second coordinate: m = 0.9 m1 + 0.1 * 0
    const v = 0.999 * 0.001 * 4;
    expect(w[1]).toBeCloseTo(1.01 - (0.01 * (m / (1 - 0.81))) / Math.sqrt(v / (1 - 0.999 ** 2)), 6);
  });

  it('SGD with momentum and L2 decay', () => {
    const optimizer = new Optimizer(1, { kind: 'sgd', weightDecay: 0.5, momentum: 0.9, decayMask: Uint8Array.from([1]) });
    const w = Float32Array.from([2]);
    optimizer.update(w, Float32Array.from([1]), 0.1); // b = 1 + 0.5*2 = 2; w = 2 - 0.2
    expect(w[0]).toBeCloseTo(1.8, 6);
    optimizer.update(w, Float32Array.from([1]), 0.1); // b = 0.9*2 + 1 + 0.9 = 3.7; w = 1.8 - 0.37
    expect(w[0]).toBeCloseTo(1.43, 6);
  });

  it('a per-weight rate scale multiplies the step and the decay (AdamW and SGD)', () => {
    for (const kind of ['adam', 'sgd'] as const) {
      const decayMask = Uint8Array.from([1, 1, 0]);
      const plain = new Optimizer(3, { kind, weightDecay: 0.1, decayMask });
      const scaled = new Optimizer(3, { kind, weightDecay: 0.1, decayMask, rateScale: Float32Array.from([1, 30, 0]) });
      const [wp, ws] = [Float32Array.from([1, 1, 1]), Float32Array.from([1, 1, 1])];
      const g = Float32Array.from([0.5, -2, 3]);
      plain.update(wp, g, 0.01);
      scaled.update(ws, g, 0.01);
      expect(ws[0]).toBe(wp[0]);
      expect(ws[1] - 1).toBeCloseTo(30 * (wp[1] - 1), 5); // f32 weights
      expect(ws[2]).toBe(1);
    }
    const mask = new Uint8Array(2).fill(1);
    expect(() => new Optimizer(2, { kind: 'adam', weightDecay: 0, decayMask: mask, rateScale: new Float32Array(3) })).toThrow(/rate scale/);
    expect(() => new Optimizer(2, { kind: 'adam', weightDecay: 0, decayMask: mask, rateScale: Float32Array.from([1, Number.NaN]) })).toThrow(/rate scale/);
  });

  it('restores its state and refuses mismatched state', () => {
    const mask = new Uint8Array(3).fill(1);
    const a = new Optimizer(3, { kind: 'adam', weightDecay: 0.01, decayMask: mask });
    const b = new Optimizer(3, { kind: 'adam', weightDecay: 0.01, decayMask: mask });
    const wa = Float32Array.from([1, 2, 3]);
    a.update(wa, Float32Array.from([1, -1, 0.5]), 0.1);
    b.restore(a.state());
    const wb = wa.slice();
    a.update(wa, Float32Array.from([0.3, 0.2, 0.1]), 0.1);
    b.update(wb, Float32Array.from([0.3, 0.2, 0.1]), 0.1);
    expect(Array.from(wb)).toEqual(Array.from(wa));
    expect(() => new Optimizer(3, { kind: 'sgd', weightDecay: 0, decayMask: mask }).restore(a.state())).toThrow(TrainingError);
  });

  it('warm-up then cosine or step decay', () => {
    const cosine = { kind: 'cosine' as const, baseRate: 1, totalSteps: 101, warmupSteps: 10, minRatio: 0.1 };
    expect(learningRate(0, cosine)).toBeCloseTo(1 / 11);
    expect(learningRate(9, cosine)).toBeCloseTo(10 / 11);
    expect(learningRate(10, cosine)).toBeCloseTo(1);
    expect(learningRate(55, cosine)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.5)));
    expect(learningRate(100, cosine)).toBeCloseTo(0.1);
    const step = { kind: 'step' as const, baseRate: 1, totalSteps: 100, warmupSteps: 0, every: 30, factor: 0.5 };
    expect([0, 29, 30, 60, 99].map((s) => learningRate(s, step))).toEqual([1, 1, 0.5, 0.25, 0.125]);
  });
});

describe('checkpoints', () => {
  const checkpoint = {
    meta: { epoch: 3, note: 'x' },
    weights: uniform(37),
    optimizer: { kind: 'adam' as const, step: 12, first: uniform(37), second: uniform(37) },
  };
  it('round-trip exactly and are written atomically', () => {
    const file = path.join(workDir, 'c.bin');
    saveCheckpoint(file, checkpoint);
    saveCheckpoint(file, checkpoint); // replaces, leaves no temporary file behind
    const loaded = loadCheckpoint<typeof checkpoint.meta>(file)!;
    expect(loaded.meta).toEqual(checkpoint.meta);
    expect(Array.from(loaded.weights)).toEqual(Array.from(checkpoint.weights));
    expect(loaded.optimizer.step).toBe(12);
    expect(Array.from(loaded.optimizer.second)).toEqual(Array.from(checkpoint.optimizer.second));
    expect(loadCheckpoint(path.join(workDir, 'none.bin'))).toBeNull();
  });
  it('reject corrupted files', () => {
    const bytes = encodeCheckpoint(checkpoint);
    bytes[bytes.length - 40] ^= 1;
    expect(() => decodeCheckpoint(bytes)).toThrow(CheckpointError);
    expect(() => decodeCheckpoint(new Uint8Array(20))).toThrow(CheckpointError);
  });
});

/** Synthetic prepared chunks: UTKFace-like keys, random crops, hidden = a random ReLU network of the crop. */
function writeSyntheticCache(dir: string, images: number, views: number, perChunk: number, mixup = 0): string[] {
  const graph = studentGraph({ outputs: 256 });
  const teacher = engine.loadModel(encodeModel(graph, initWeights(graph, 4242)));
  const preprocess = graph.preprocess!;
  const mixing = uniform(256 * 128, 0.1);
  const keys: string[] = [];
  for (let first = 0, chunk = 0; first < images; first += perChunk, chunk++) {
    const chunkKeys: string[] = [];
    const records: PreparedRecord[][] = [];
    for (let i = first; i < Math.min(images, first + perChunk); i++) {
      const key = `${1 + Math.floor(random() * 80)}_${i % 2}_${i % 5}_2017${String(i).padStart(6, '0')}.jpg`;
      chunkKeys.push(key);
      const base = Uint8Array.from({ length: CROP_BYTES }, () => Math.floor(random() * 256));
      records.push(Array.from({ length: views }, (_, v) => {
        const crop = base.map((x) => (x + 17 * v) % 256);
        const input = new Float32Array(IMAGE);
        preprocessCrop(crop, preprocess, input, 0);
        const hidden = teacher.run(input).map((h) => h / 4);
        const descriptor = new Float32Array(128);
        for (let d = 0; d < 128; d++) for (let j = 0; j < 256; j++) descriptor[d] += hidden[j] * mixing[j * 128 + d];
        return { crop, hidden, descriptor };
      }));
    }
    writeChunk(dir, chunk, { keys: chunkKeys, views, failures: [], records, mixup });
    keys.push(...chunkKeys);
  }
  teacher.dispose();
  return keys;
}

describe('prepared dataset', () => {
  let dir: string;
  let keys: string[];
  beforeAll(() => {
    dir = path.join(workDir, 'prepared-small');
    keys = writeSyntheticCache(dir, 10, 3, 4);
  });

  it('addresses every record of every chunk by offset', () => {
    const dataset = PreparedDataset.open(dir);
    expect(dataset.keys).toEqual(keys);
    expect(dataset.views).toBe(3);
    const chunk = new Uint8Array(readFileSync(path.join(dir, 'chunk-00002.bin')));
    // image 9 = third record of chunk 2, view 1
    const at = (1 * 3 + 1) * (CROP_BYTES + 4 * 384);
    expect(Array.from(dataset.crop(9, 1))).toEqual(Array.from(chunk.subarray(at, at + CROP_BYTES)));
    const hidden = new Float32Array(256);
    dataset.teacher('hidden', 9, 1, hidden);
    const view = new DataView(chunk.buffer);
    expect(hidden[5]).toBe(view.getFloat32(at + CROP_BYTES + 20, true));
    const desc = new Float32Array(130);
    dataset.teacher('desc', 9, 1, desc, 2);
    expect(desc[2 + 127]).toBe(view.getFloat32(at + CROP_BYTES + 4 * (256 + 127), true));
    expect(() => dataset.crop(10, 0)).toThrow(PreparedDataError);
    expect(() => dataset.crop(0, 3)).toThrow(PreparedDataError);
  });

  it('rejects chunks with different view counts and missing directories', () => {
    const mixed = path.join(workDir, 'prepared-mixed');
    writeChunk(mixed, 0, { keys: ['a'], views: 1, failures: [], records: [[{ crop: new Uint8Array(CROP_BYTES), hidden: new Float32Array(256), descriptor: new Float32Array(128) }]] });
    writeChunk(mixed, 1, { keys: ['b'], views: 2, failures: [], records: [[0, 1].map(() => ({ crop: new Uint8Array(CROP_BYTES), hidden: new Float32Array(256), descriptor: new Float32Array(128) }))] });
    expect(() => PreparedDataset.open(mixed)).toThrow(PreparedDataError);
    expect(() => PreparedDataset.open(path.join(workDir, 'absent'))).toThrow(PreparedDataError);
  });

  it('joins several prepared directories into one dataset, keys prefixed by folder', () => {
    const second = path.join(workDir, 'prepared-second');
    const secondKeys = writeSyntheticCache(second, 5, 3, 4);
    const joined = PreparedDataset.open([dir, second]);
    expect(joined.size).toBe(15);
    expect(joined.keys).toEqual([...keys.map((k) => `prepared-small/${k}`), ...secondKeys.map((k) => `prepared-second/${k}`)]);
    expect(Array.from(joined.crop(12, 2))).toEqual(Array.from(PreparedDataset.open(second).crop(2, 2)));
    expect(() => PreparedDataset.open([dir, path.join(workDir, 'prepared-mixed')])).toThrow(PreparedDataError);
  });

  it('global standardisation: per-neuron means, one shared scale (distances only rescaled)', () => {
    const dataset = PreparedDataset.open(dir);
    const raw = new TargetReader(dataset, { kind: 'desc' }, null);
    const images = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    const perNeuron = computeStandardization(raw, images, 3, 'neuron');
    const global = computeStandardization(raw, images, 3, 'global');
    expect(Array.from(global.mean)).toEqual(Array.from(perNeuron.mean));
    expect(new Set(global.std).size).toBe(1);
    const meanVariance = perNeuron.std.reduce((a, s) => a + s * s, 0) / perNeuron.std.length;
    expect(global.std[0]).toBeCloseTo(Math.sqrt(meanVariance), 4); // no floor hit: descriptors vary
    const reader = new TargetReader(dataset, { kind: 'desc' }, global);
    const [a, b, ra, rb] = [0, 1, 2, 3].map(() => new Float32Array(128));
    reader.fill(0, 0, a);
    reader.fill(1, 0, b);
    raw.raw(0, 0, ra);
    raw.raw(1, 0, rb);
    const distance = (x: Float32Array, y: Float32Array) => Math.hypot(...Array.from(x, (v, i) => v - y[i]));
    expect(distance(a, b)).toBeCloseTo(distance(ra, rb) / global.std[0], 4);
  });

  it('splits by key: deterministic, about the fraction, independent of order', () => {
    const many = Array.from({ length: 4000 }, (_, i) => `${i % 90}_${i % 2}_${i % 5}_${i}.jpg`);
    const { train, validation } = splitByKey(many, 0.05, 7);
    expect(train.length + validation.length).toBe(4000);
    expect(validation.length).toBeGreaterThan(150);
    expect(validation.length).toBeLessThan(250);
    const reversed = splitByKey([...many].reverse(), 0.05, 7);
    const names = (indices: Int32Array, list: string[]) => new Set(Array.from(indices, (i) => list[i]));
    expect(names(reversed.validation, [...many].reverse())).toEqual(names(validation, many));
    expect(splitByKey(many, 0.05, 8).validation).not.toEqual(validation);
  });

  it('preprocesses crops like the model (BGR, (x - 127.5) * 3.2/255), jitter stays small', () => {
    const crop = Uint8Array.from({ length: CROP_BYTES }, (_, i) => (i * 7) % 256);
    const preprocess = studentGraph().preprocess!;
    const out = new Float32Array(IMAGE + 3);
    preprocessCrop(crop, preprocess, out, 3);
    expect(out[3]).toBeCloseTo((crop[2] - 127.5) * (3.2 / 255), 6); // B first
    expect(out[3 + 2]).toBeCloseTo((crop[0] - 127.5) * (3.2 / 255), 6);
    const jittered = new Float32Array(IMAGE);
    preprocessCrop(crop, preprocess, jittered, 0, sampleJitter(random, { brightness: 12, contrast: 0.12, color: 0.05 }));
    let worst = 0;
    for (let i = 0; i < IMAGE; i++) worst = Math.max(worst, Math.abs(jittered[i] - out[3 + i]));
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(0.6); // < 50 grey levels
    for (const v of jittered) expect(Math.abs(v)).toBeLessThanOrEqual(1.6 + 1e-6);
  });

  it('standardised targets folded into the last layer give teacher-scale outputs', () => {
    const dataset = PreparedDataset.open(dir);
    const spec = { kind: 'selected' as const, neurons: [3, 50, 200] };
    const raw = new TargetReader(dataset, spec, null);
    const s = computeStandardization(raw, Int32Array.from([0, 1, 2, 3, 4, 5]), 3);
    const reader = new TargetReader(dataset, spec, s);
    const t = new Float32Array(3);
    reader.fill(2, 1, t);
    const r = new Float32Array(3);
    raw.raw(2, 1, r);
    for (let j = 0; j < 3; j++) expect(t[j]).toBeCloseTo((r[j] - s.mean[j]) / s.std[j], 5);

    const graph = trainingGraph(3, spec, true);
    const tensors = initWeights(graph, 6);
    const input = uniform(2 * IMAGE, 1.6);
    const network = new TrainingNetwork(engine, graph, tensors, 2);
    const standardized = network.forward(input, 2);
    network.dispose();
    const model = engine.loadModel(encodeModel(exportGraph(3, spec), foldStandardization(graph, tensors, s)), { batch: 2 });
    const exported = model.run(input, 2);
    model.dispose();
    for (let i = 0; i < 6; i++) expect(exported[i]).toBeCloseTo(Math.max(0, standardized[i] * s.std[i % 3] + s.mean[i % 3]), 4);
  });
});

describe('model file', () => {
  it('the 422-output student stored as f16 fits in 2.4 MB (q8 in half that) and loads', () => {
    const graph = studentGraph({ outputs: 422 });
    const tensors: Map<string, Tensor> = initWeights(graph, 1);
    const parameters = [...tensors.values()].reduce((n, t) => n + t.data.length, 0);
    expect(parameters).toBe(1_179_414);
    const f16 = encodeModel(graph, tensors, { dtype: 'f16' });
    const q8 = encodeModel(graph, tensors, { dtype: 'q8' });
    expect(f16.length).toBeLessThanOrEqual(2.4e6);
    expect(q8.length).toBeLessThanOrEqual(1.2e6);
    const model = engine.loadModel(f16);
    expect(model.run(uniform(IMAGE, 1.6))).toHaveLength(422);
    model.dispose();
  });
});

describe('distillation run', () => {
  it('trains, checkpoints every epoch, resumes, and writes model, log, plot and report', async () => {
    const data = path.join(workDir, 'prepared');
    writeSyntheticCache(data, 36, 2, 16);
    const out = path.join(workDir, 'models', 'tiny.mobileid');
    const base = { ...DISTILL_DEFAULTS, data: [data], out, checkpointDir: path.join(workDir, 'ckpt'), batch: 12, lr: 2e-3, workers: 0, validationFraction: 0.2, targets: 'selected' as const, k: 20, log: () => {} };
    // after every epoch the model file and its run log are on disk (a stopped run's weights survive without its checkpoint)
    const afterEpoch: { epoch: number; history: number; fileEpochs: unknown }[] = [];
    const first = await runDistillation({
      ...base, epochs: 2,
      log: (l) => {
        if (!/^epoch \d\/2: wrote /.test(l)) return;
        const run = JSON.parse(readFileSync(runLogOf(out), 'utf8')) as RunRecord;
        afterEpoch.push({ epoch: run.epoch, history: run.history.length, fileEpochs: (decodeModel(new Uint8Array(readFileSync(out))).graph.meta as { distilled: { epochs: number } }).distilled.epochs });
      },
    });
    expect(first.history.map((e) => e.epoch)).toEqual([1, 2]);
    expect(afterEpoch).toEqual([{ epoch: 1, history: 1, fileEpochs: 1 }, { epoch: 2, history: 2, fileEpochs: 2 }]);
    const lines: string[] = [];
    const resumed = await runDistillation({ ...base, epochs: 3, resume: true, log: (l) => lines.push(l) });
    expect(resumed.history.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(resumed.history.slice(0, 2)).toEqual(first.history);
    expect(lines.filter((l) => /^epoch \d\/3 train loss/.test(l))).toHaveLength(1); // only epoch 3 ran
    expect(lines.some((l) => /^epoch 3\/3 step \d+\/\d+ loss [\d.]+ val [\d.]+ lr .* img\/s$/.test(l))).toBe(true);

    const log = JSON.parse(readFileSync(resumed.logPath, 'utf8')) as RunRecord;
    expect(log.history).toHaveLength(3);
    expect(log.neurons).toHaveLength(20);
    expect(log.history[2].trainLoss).toBeLessThan(log.history[0].trainLoss);
    const bytes = new Uint8Array(readFileSync(out));
    const decoded = decodeModel(bytes);
    expect(decoded.graph.layers.at(-1)).toMatchObject({ op: 'dense', units: 20, activation: { kind: 'relu' } });
    expect(decoded.graph.meta).toMatchObject({ distilled: { targets: 'selected', neurons: log.neurons } });
    expect(resumed.exportError).toBeLessThan(5e-3); // f16 storage
    expect(readFileSync(resumed.plotPath).subarray(1, 4).toString()).toBe('PNG');
    expect(readFileSync(resumed.reportPath, 'utf8')).toContain('## Neuron selection');

    // a resume that would change the targets is refused
    await expect(runDistillation({ ...base, epochs: 4, resume: true, k: 21 })).rejects.toThrow(TrainingError);

    // a checkpoint from before --batch-norm existed resumes as one trained without it
    const file = path.join(base.checkpointDir, 'checkpoint.bin');
    const old = decodeCheckpoint<RunRecord>(readFileSync(file));
    delete (old.meta.options as Partial<RunRecord['options']>).batchNorm;
    saveCheckpoint(file, old);
    await expect(runDistillation({ ...base, epochs: 4, resume: true, batchNorm: true })).rejects.toThrow(/batchNorm/);
    expect((await runDistillation({ ...base, epochs: 4, resume: true })).history).toHaveLength(4);
  });

  it('warm-starts from another run: its weights and standardisation, a fresh optimiser and schedule', async () => {
    const data = path.join(workDir, 'prepared-warm');
    writeSyntheticCache(data, 36, 2, 16);
    const base = { ...DISTILL_DEFAULTS, data: [data], batch: 12, lr: 2e-3, workers: 0, validationFraction: 0.2, log: () => {} };
    const first = await runDistillation({ ...base, epochs: 3, out: path.join(workDir, 'models', 'cold.mobileid'), checkpointDir: path.join(workDir, 'ckpt-cold') });
    const from = path.join(workDir, 'ckpt-cold', 'checkpoint.bin');
    const lines: string[] = [];
    const warm = await runDistillation({
      ...base, epochs: 1, initFrom: from, out: path.join(workDir, 'models', 'warm.mobileid'), checkpointDir: path.join(workDir, 'ckpt-warm'), log: (l) => lines.push(l),
    });
    expect(lines.some((l) => l.startsWith(`warm start from ${from} (3 epochs`))).toBe(true);
    // it continues from the trained network, not from scratch
    expect(warm.history[0].trainLoss).toBeLessThan(first.history[0].trainLoss);
    const log = JSON.parse(readFileSync(warm.logPath, 'utf8')) as RunRecord;
    const cold = JSON.parse(readFileSync(first.logPath, 'utf8')) as RunRecord;
    expect(log.warmStart).toMatchObject({ from, epochs: 3, windowScale: STUDENT_WINDOW_SCALE });
    expect(log.standardization).toEqual(cold.standardization);
    expect(readFileSync(warm.reportPath, 'utf8')).toContain('| warm start | weights of');

    // another network, or no checkpoint, is refused
    const other = { ...base, epochs: 1, out: path.join(workDir, 'models', 'x.mobileid'), checkpointDir: path.join(workDir, 'ckpt-x') };
    await expect(runDistillation({ ...other, initFrom: from, arch: 'deep' })).rejects.toThrow(/--init-from: .* arch = paper, now deep/);
    await expect(runDistillation({ ...other, initFrom: path.join(workDir, 'none.bin') })).rejects.toThrow(TrainingError);

    // a checkpoint of the deep layout grows into deep-res (STUDENT_GROWS_FROM)
    const deep = { ...base, epochs: 1, arch: 'deep' as const, batchNorm: true, activation: 'prelu' as const };
    await runDistillation({ ...deep, out: path.join(workDir, 'models', 'deep.mobileid'), checkpointDir: path.join(workDir, 'ckpt-deep') });
    const grownLines: string[] = [];
    const grown = await runDistillation({
      ...deep, arch: 'deep-res', initFrom: path.join(workDir, 'ckpt-deep', 'checkpoint.bin'), grownRate: 10,
      out: path.join(workDir, 'models', 'grown.mobileid'), checkpointDir: path.join(workDir, 'ckpt-grown'), log: (l) => grownLines.push(l),
    });
    expect(grownLines.some((l) => l.startsWith('grown from the deep layout: ') && l.includes('new layers res2, block2'))).toBe(true);
    expect(grownLines).toContain('learning rate x10 for the grown tensors res2.w, res2.b, res2.slope, res2.bn.gamma, res2.bn.beta');
    expect(readFileSync(grown.reportPath, 'utf8')).toContain(`lr ${deep.lr} (x10 for the layers added by growing)`);
    expect(grown.history).toHaveLength(1);
    // inspect-checkpoint reads it back tensor by tensor: the branch grown at zero has opened
    const ckpt = new Uint8Array(readFileSync(path.join(workDir, 'ckpt-grown', 'checkpoint.bin')));
    const summary = summarizeCheckpoint(ckpt);
    expect(summary.step).toBe(grown.history[0].steps);
    const gate = summary.tensors.find((t) => t.name === 'res2.bn.gamma')!;
    expect(gate.shape).toEqual([64]);
    expect(gate.rms).toBeGreaterThan(0);
    expect(summary.tensors.find((t) => t.name === 'conv1.bn.mean')!.statistic).toBe(true);
    // a checkpoint whose run record names another layout is refused
    const decoded = decodeCheckpoint<RunRecord>(ckpt);
    const relabelled = encodeCheckpoint({ ...decoded, meta: { ...decoded.meta, options: { ...decoded.meta.options, arch: 'paper' } } });
    expect(() => summarizeCheckpoint(relabelled, 'relabelled')).toThrow(/relabelled: \d+ weights, but its run's network \(paper\) has \d+/);
    expect(() => summarizeCheckpoint(encodeCheckpoint({ ...decoded, meta: { nothing: 1 } }), 'other')).toThrow(CheckpointError);
  });

  it('warm-starts from a model file and its run log: batch norm re-calibrated, training goes on from where the file left off', async () => {
    const data = path.join(workDir, 'prepared-from-file');
    writeSyntheticCache(data, 36, 2, 16);
    const base = { ...DISTILL_DEFAULTS, data: [data], batch: 12, workers: 0, validationFraction: 0.2, batchNorm: true, activation: 'prelu' as const, log: () => {} };
    const first = await runDistillation({ ...base, epochs: 3, dtype: 'f32', out: path.join(workDir, 'models', 'file-cold.mobileid'), checkpointDir: path.join(workDir, 'ckpt-file-cold') });
    const lines: string[] = [];
    const warm = await runDistillation({
      ...base, epochs: 1, lr: 1e-4, initFrom: first.modelPath, out: path.join(workDir, 'models', 'file-warm.mobileid'), checkpointDir: path.join(workDir, 'ckpt-file-warm'),
      log: (l) => lines.push(l),
    });
    expect(lines.some((l) => l.startsWith(`warm start from ${first.modelPath} (3 epochs`) && l.includes('batch norm calibrated on'))).toBe(true);
    // the unfolded network computes the model file's outputs
    const difference = lines.map((l) => /^training network vs .* max relative difference (\S+)$/.exec(l)).find(Boolean);
    expect(Number(difference![1])).toBeLessThan(1e-4);
    // it goes on from the trained network: its first epoch is about where the first run ended
    expect(warm.history[0].validationLoss).toBeLessThan(first.history[0].validationLoss);
    expect(warm.history[0].trainLoss).toBeLessThan(first.history[0].trainLoss);
    const log = JSON.parse(readFileSync(warm.logPath, 'utf8')) as RunRecord;
    const cold = JSON.parse(readFileSync(first.logPath, 'utf8')) as RunRecord;
    expect(log.warmStart).toMatchObject({ from: first.modelPath, epochs: 3 });
    expect(log.standardization).toEqual(cold.standardization);

    // another network, or a model file without its run log, is refused
    const other = { ...base, epochs: 1, out: path.join(workDir, 'models', 'y.mobileid'), checkpointDir: path.join(workDir, 'ckpt-y') };
    await expect(runDistillation({ ...other, initFrom: first.modelPath, activation: 'relu' })).rejects.toThrow(/--init-from: .* activation = prelu, now relu/);
    rmSync(first.logPath);
    await expect(runDistillation({ ...other, initFrom: first.modelPath })).rejects.toThrow(/needs its run log/);
  });

  it.each(['relu', 'prelu'] as const)('with batch norm and %s: trains and exports a model file with the normalisation folded in', async (activation) => {
    const data = path.join(workDir, `prepared-bn-${activation}`);
    writeSyntheticCache(data, 36, 2, 16, activation === 'prelu' ? 0.25 : 0);
    const out = path.join(workDir, 'models', `tiny-bn-${activation}.mobileid`);
    const options = {
      ...DISTILL_DEFAULTS, data: [data], out, checkpointDir: path.join(workDir, `ckpt-bn-${activation}`), batch: 12, workers: 0, validationFraction: 0.2,
      batchNorm: true, activation, epochs: 2, log: () => {},
    };
    const result = await runDistillation(options);
    expect(result.history[1].trainLoss).toBeLessThan(result.history[0].trainLoss);
    expect(result.exportError).toBeLessThan(5e-3); // f16 storage
    const decoded = decodeModel(new Uint8Array(readFileSync(out)));
    expect([...decoded.tensors.keys()].filter((name) => name.includes('.bn.'))).toEqual([]);
    expect(decoded.graph.meta).toMatchObject({ distilled: { windowScale: STUDENT_WINDOW_SCALE } }); // the crops' student window
    // every hidden layer keeps its activation, PReLU with its trained slopes
    const hidden = decoded.graph.layers.filter((l) => (l.op === 'conv' || l.op === 'dense') && l.output !== decoded.graph.outputs[0]);
    expect(hidden.map((l) => (l as { activation: { kind: string } }).activation.kind)).toEqual(hidden.map(() => activation));
    const slopes = [...decoded.tensors.keys()].filter((name) => name.endsWith('.slope'));
    expect(slopes).toHaveLength(activation === 'prelu' ? hidden.length : 0);
    if (activation === 'prelu') expect(slopes.some((name) => decoded.tensors.get(name)!.data.some((v) => v !== 0.25))).toBe(true);
    const log = JSON.parse(readFileSync(result.logPath, 'utf8')) as RunRecord;
    expect(log.options).toMatchObject({ batchNorm: true, activation });
    // the report says how the views were made
    expect(log.dataset.mixup).toBe(activation === 'prelu' ? 0.25 : 0);
    expect(readFileSync(result.reportPath, 'utf8').includes('mixed up with another face with probability 0.25')).toBe(activation === 'prelu');
    // a resume with the other activation is refused
    const other = activation === 'relu' ? 'prelu' : 'relu';
    await expect(runDistillation({ ...options, epochs: 3, resume: true, activation: other })).rejects.toThrow(/activation = /);
  });

  it('rejects bad options before loading anything', async () => {
    const base = { ...DISTILL_DEFAULTS, data: [workDir], out: path.join(workDir, 'x.mobileid'), checkpointDir: workDir, log: () => {} };
    await expect(runDistillation({ ...base, out: 'x.bin' })).rejects.toThrow(TrainingError);
    await expect(runDistillation({ ...base, batch: 0 })).rejects.toThrow(TrainingError);
    await expect(runDistillation({ ...base, activation: 'tanh' as never })).rejects.toThrow(/activation must be relu or prelu/);
    await expect(runDistillation({ ...base, arch: 'wide' as never })).rejects.toThrow(/arch must be paper or deep or .*, got wide/);
    await expect(runDistillation({ ...base, targets: 'selected', k: 300 })).rejects.toThrow(TrainingError);
    await expect(runDistillation({ ...base, relationWeight: -1 })).rejects.toThrow(/relation weight must be >= 0/);
    await expect(runDistillation({ ...base, relationWeight: Number.NaN })).rejects.toThrow(/relation weight must be >= 0/);
    // a grown rate only where growing adds layers, with a run to grow from
    await expect(runDistillation({ ...base, arch: 'deep', grownRate: 10, initFrom: 'x.bin' })).rejects.toThrow(/grown rate applies/);
    await expect(runDistillation({ ...base, arch: 'deep-res', grownRate: 10 })).rejects.toThrow(/grown rate applies/);
    await expect(runDistillation({ ...base, arch: 'deep-res', grownRate: -1, initFrom: 'x.bin' })).rejects.toThrow(/grown rate must be/);
    await expect(runDistillation({ ...base, data: [path.join(workDir, 'nothing')] })).rejects.toThrow(TrainingError);
    // the identity metric: descriptor targets, a --data directory of identities, shrink in 0..1
    await expect(runDistillation({ ...base, standardize: 'identity' })).rejects.toThrow(/needs --identities naming one of the --data directories/);
    await expect(runDistillation({ ...base, standardize: 'identity', identities: workDir, targets: 'hidden' })).rejects.toThrow(/applies to descriptor targets/);
    await expect(runDistillation({ ...base, standardize: 'identity', identities: workDir, shrink: 1.5 })).rejects.toThrow(/shrink must be in 0..1/);
    await expect(runDistillation({ ...base, identities: workDir })).rejects.toThrow(/--identities applies to standardize identity/);
    expect(existsSync(path.join(workDir, 'x.mobileid'))).toBe(false);
  });
});

describe('growing a run into a larger layout', () => {
  it('deep into deep-res: every tensor copied, the residual branch starts at zero, the same outputs', () => {
    const layers = (arch: StudentArchitecture) => trainingGraph(16, { kind: 'desc' }, true, { arch, activation: 'prelu' });
    const [from, to] = [layers('deep'), layers('deep-res')];
    for (const batchNorm of [false, true]) {
      const fromTensors = batchNorm ? withBatchNorm(from, initWeights(from, 3)) : initWeights(from, 3);
      // running statistics away from the identity, so that the copy matters
      for (const [name, t] of fromTensors) if (name.endsWith('.mean') || name.endsWith('.variance')) t.data.forEach((_, i, a) => (a[i] = name.endsWith('.mean') ? 0.1 * (random() - 0.5) : 0.5 + random()));
      const vector = ParameterLayout.of(from, fromTensors, batchNorm).flatten(fromTensors);
      const initial = batchNorm ? withBatchNorm(to, initWeights(to, 4)) : initWeights(to, 4);
      const grown = growWeights(from, vector, to, initial, batchNorm);
      expect(grown.added).toEqual(['res2', 'block2']);
      const input = uniform(3 * IMAGE, 1.6);
      const [before, after] = [[from, fromTensors], [to, grown.tensors]].map(([graph, tensors]) => {
        const net = new TrainingNetwork(engine, graph as typeof from, tensors as Map<string, Tensor>, 3, { batchNorm });
        const y = net.forward(input, 3);
        net.dispose();
        return y;
      });
      let worst = 0;
      before.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - after[i]))));
      expect(worst).toBeLessThanOrEqual(1e-5);
    }
    // a layout that changes a tensor's shape is not grown into
    const paper = trainingGraph(16, { kind: 'desc' }, true, { arch: 'paper', activation: 'prelu' });
    const paperTensors = initWeights(paper, 3);
    expect(() => growWeights(paper, ParameterLayout.of(paper, paperTensors).flatten(paperTensors), to, initWeights(to, 4), false)).toThrow(/cannot grow into this layout: tensor "conv3.w"/);
  });

  it('the grown tensors get their own learning-rate multiplier; running statistics and the copied tensors keep 1', () => {
    const layers = (arch: StudentArchitecture) => trainingGraph(16, { kind: 'desc' }, true, { arch, activation: 'prelu' });
    const to = layers('deep-res');
    const layout = ParameterLayout.of(to, withBatchNorm(to, initWeights(to)), true);
    const { scale, tensors } = grownRateScale(layers('deep'), layout, true, 30);
    expect(tensors).toEqual(['res2.w', 'res2.b', 'res2.slope', 'res2.bn.gamma', 'res2.bn.beta']);
    for (const e of layout.entries) {
      const expected = tensors.includes(e.name) ? 30 : 1;
      expect(layout.view(scale, e.name).every((r) => r === expected)).toBe(true);
    }
  });
});

describe('student architectures', () => {
  it("stay within MobileID's budget (1.5 M parameters, 90 MFLOP per face) at 128 outputs", () => {
    const cost = (arch: StudentArchitecture, activation: StudentActivation = 'relu') => {
      const graph = studentGraph({ outputs: 128, arch, activation });
      return graphCost(graph, initWeights(graph));
    };
    const paper = cost('paper');
    const deep = cost('deep');
    const deepPrelu = cost('deep', 'prelu');
    // one slope per channel of conv1-4 (64, 64, 128, 128) and fc1-2 (384, 384); no more multiply-adds
    expect(deepPrelu.parameters - deep.parameters).toBe(1_152);
    expect(deepPrelu.parameters).toBeLessThanOrEqual(1_500_000);
    expect(deepPrelu.flops).toBe(deep.flops);
    // the paper's layout by hand: conv 3,136 + 36,928 + 36,928, fc 640,500 + 250,500 + 64,128
    expect(paper.parameters).toBe(1_032_120);
    expect(deep.parameters).toBeLessThanOrEqual(1_500_000);
    expect(deep.flops).toBeLessThanOrEqual(90e6);
    expect(deep.flops).toBeGreaterThan(paper.flops);
    // conv5 by hand: conv 3,136 + 36,928 + 73,856 + 184,480 + 230,560, fc 819,456 + 65,792 + 32,896;
    // PReLU slopes 64 + 64 + 128 + 160 + 160 + 256 + 256
    const conv5 = cost('conv5');
    expect(conv5.parameters).toBe(1_447_104);
    expect(cost('conv5', 'prelu').parameters - conv5.parameters).toBe(1_088);
    expect(conv5.flops).toBeLessThanOrEqual(90e6);
    // mobile by hand: conv1 896; depthwise 320 + 640 + 960 + 960 + 1,920 + 1,920 + 3,840 and the
    // global 16,512; pointwise 2,112 + 6,240 + 9,312 + 18,624 + 37,056 + 74,112 + 147,840; fc 197,120
    // + 262,656 + 65,664; PReLU slopes 3,904 (every layer's channels but fc3's)
    // deep-res: the deep layout plus res2, 64@3x3 on 64 channels (36,928 parameters, 64 slopes)
    const deepRes = cost('deep-res');
    expect(deepRes.parameters - deep.parameters).toBe(36_928);
    expect(cost('deep-res', 'prelu').parameters).toBeLessThanOrEqual(1_500_000);
    expect(deepRes.flops).toBeLessThanOrEqual(90e6);
    const mobile = cost('mobile');
    expect(mobile.parameters).toBe(848_704);
    expect(cost('mobile', 'prelu').parameters - mobile.parameters).toBe(3_904);
    expect(mobile.flops).toBeLessThanOrEqual(90e6);
  });
});
