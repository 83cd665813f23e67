// The committed student model: it loads, has the documented shape and verification rule, and its
// output on a fixed input is reproducible (same in two engines, equal to the plain reference
// executor on the decoded weights).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { decodeModel } from '../src/engine/model-format.js';
import { seededRandom } from '../src/math/random.js';
import { maxRelativeError, referenceRun } from './reference.js';

const bytes = new Uint8Array(readFileSync(new URL('../models/mobileid-student.mobileid', import.meta.url)));

describe('shipped student', () => {
  it('is a MobileID student under 2.4 MB with a verification rule', () => {
    expect(bytes.length).toBeLessThanOrEqual(2.4e6);
    const { graph } = decodeModel(bytes);
    expect(graph.input.shape).toEqual([55, 47, 3]);
    expect(graph.preprocess?.channelOrder).toBe('bgr');
    const verification = graph.meta?.verification as { verifier: string; threshold: number; mirror: boolean };
    expect(['cosine', 'euclidean']).toContain(verification.verifier);
    expect(Number.isFinite(verification.threshold)).toBe(true);
  });

  it('gives the same output on a fixed input in every engine and in the reference executor', async () => {
    const random = seededRandom(2016);
    const input = Float32Array.from({ length: 55 * 47 * 3 }, () => random() * 3.2 - 1.6);
    const outputs = [];
    for (let i = 0; i < 2; i++) {
      const engine = await Engine.create();
      outputs.push(engine.loadModel(bytes).run(input));
      engine.dispose();
    }
    expect(outputs[1]).toEqual(outputs[0]);
    const decoded = decodeModel(bytes);
    const [reference] = referenceRun(decoded.graph, decoded.tensors, input);
    expect(maxRelativeError(outputs[0], reference)).toBeLessThanOrEqual(1e-5);
    expect(outputs[0].some((v) => v > 0)).toBe(true);
  });
});
