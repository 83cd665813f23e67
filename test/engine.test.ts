// Model format round trips and the engine's behaviour on bad input: every failure is a typed
// error with a clear message, and the engine keeps working afterwards.
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { decodeModel, encodeModel, fromHalf, toHalf } from '../src/engine/model-format.js';
import { DisposedError, InputError, ModelFormatError } from '../src/errors.js';
import { initWeights, studentGraph } from '../src/face/student-graph.js';

let engine: Engine;
const graph = studentGraph();
const weights = initWeights(graph, 11);
const bytes = encodeModel(graph, weights);
const input = Float32Array.from({ length: 55 * 47 * 3 }, (_, i) => Math.sin(i * 0.37));

beforeAll(async () => { engine = await Engine.create(); });

describe('model format', () => {
  it('round-trips f32 exactly, f16 and q8 approximately', () => {
    const exact = decodeModel(bytes);
    expect(exact.graph).toEqual(graph);
    for (const [name, t] of weights) expect(exact.tensors.get(name)!.data).toEqual(t.data);
    const half = decodeModel(encodeModel(graph, weights, { dtype: 'f16' }));
    const q8 = decodeModel(encodeModel(graph, weights, { dtype: 'q8' }));
    for (const [name, t] of weights) {
      let lo = Infinity, hi = -Infinity, halfExcess = 0, q8Error = 0;
      t.data.forEach((v, i) => {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
        halfExcess = Math.max(halfExcess, Math.abs(half.tensors.get(name)!.data[i] - v) - Math.abs(v) / 1024);
        q8Error = Math.max(q8Error, Math.abs(q8.tensors.get(name)!.data[i] - v));
      });
      expect(halfExcess).toBeLessThanOrEqual(1e-7);
      expect(q8Error).toBeLessThanOrEqual((hi - lo) / 510 + 1e-6);
    }
  });
  it('converts half floats like IEEE 754 (round to nearest even, subnormals, overflow)', () => {
    for (const v of [0, 1, -2, 0.1, 65504, 6.1e-5, 5.96e-8, 1e-3, -123.456]) expect(Math.abs(fromHalf(toHalf(v)) - v)).toBeLessThanOrEqual(Math.abs(v) / 2048 + 3e-8);
    expect(fromHalf(toHalf(1e6))).toBe(Infinity);
    expect(toHalf(1 + 1 / 2048)).toBe(0x3c00); // tie goes to even
    expect(toHalf(1 + 3 / 2048)).toBe(0x3c02);
  });
  it('rejects truncated, tampered, foreign and future-version files', () => {
    expect(() => decodeModel(bytes.subarray(0, 10))).toThrow(ModelFormatError);
    expect(() => decodeModel(bytes.subarray(0, bytes.length - 100))).toThrow(/checksum|truncated/);
    const tampered = bytes.slice();
    tampered[tampered.length - 5000] ^= 0x10;
    expect(() => decodeModel(tampered)).toThrow(/checksum/);
    const foreign = bytes.slice();
    foreign[0] = 0x50;
    expect(() => decodeModel(foreign)).toThrow(/magic/);
    const future = bytes.slice();
    new DataView(future.buffer).setUint32(8, 99, true);
    expect(() => decodeModel(future)).toThrow(/version 99/);
  });
  it('rejects graphs whose weights do not match their layers', () => {
    const wrong = new Map(weights);
    wrong.set('conv2.w', { shape: [3, 3, 64, 32], data: new Float32Array(3 * 3 * 64 * 32) });
    expect(() => engine.loadModel(encodeModel(graph, wrong))).toThrow(/conv2.*expected \[3,3,64,64\]/);
    const missing = new Map(weights);
    missing.delete('fc1.b');
    expect(() => engine.loadModel(encodeModel(graph, missing))).toThrow(ModelFormatError);
    const cyclic = { ...graph, layers: [...graph.layers.slice(1), graph.layers[0]] };
    expect(() => engine.loadModel({ graph: cyclic, tensors: weights })).toThrow(/not defined by an earlier layer/);
  });
});

describe('engine', () => {
  it('gives the same result for an image alone and inside a batch', () => {
    const model = engine.loadModel(bytes);
    const alone = model.run(input);
    const batch = new Float32Array(input.length * 6);
    for (let i = 0; i < 6; i++) batch.set(i === 4 ? input : input.map((v) => -v), i * input.length);
    const together = model.run(batch, 6);
    expect(together.subarray(4 * 422, 5 * 422)).toEqual(alone);
    expect(model.run(input)).toEqual(alone);
    model.dispose();
  });
  it('reports wrong input lengths, bad batches and NaN as InputError and stays usable', () => {
    const model = engine.loadModel(bytes);
    const good = model.run(input);
    expect(() => model.run(new Float32Array(10))).toThrow(InputError);
    expect(() => model.run(input, 2)).toThrow(/expects batch 2 x \[55,47,3\]/);
    expect(() => model.run(input, 0)).toThrow(InputError);
    expect(() => model.run(Array.from(input) as unknown as Float32Array)).toThrow(InputError);
    const poisoned = input.slice();
    poisoned[1234] = NaN;
    expect(() => model.run(poisoned)).toThrow(/NaN/);
    expect(model.run(input)).toEqual(good);
    model.dispose();
  });
  it('throws DisposedError after dispose and reuses the freed memory', () => {
    const before = engine.memoryBytes;
    const model = engine.loadModel(bytes);
    // the arena breakdown accounts for every byte the model took
    const parts = model.arenaBytes;
    expect(parts.weights).toBeGreaterThan(0);
    expect(parts.perImageActivations).toBeGreaterThan(0);
    expect(parts.weights + parts.perImageActivations + parts.scratch + parts.batchedActivations).toBe(engine.memoryBytes - before);
    model.dispose();
    expect(() => model.run(input)).toThrow(DisposedError);
    for (let i = 0; i < 5; i++) engine.loadModel(bytes).dispose();
    expect(engine.memoryBytes).toBe(before);
  });
  it('keeps several models independent', () => {
    const a = engine.loadModel(bytes);
    const b = engine.loadModel(encodeModel(graph, initWeights(graph, 12)));
    const outA = a.run(input);
    b.run(input);
    expect(a.run(input)).toEqual(outA);
    a.dispose();
    b.dispose();
  });
  it('refuses everything after the engine itself is disposed', async () => {
    const own = await Engine.create();
    const model = own.loadModel(bytes);
    own.dispose();
    expect(() => model.run(input)).toThrow(DisposedError);
    expect(() => own.loadModel(bytes)).toThrow(DisposedError);
  });
});
