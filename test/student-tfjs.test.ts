// The MobileID student in this engine vs the same network, same weights, in @tensorflow/tfjs.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { encodeModel } from '../src/engine/model-format.js';
import { initWeights, studentGraph } from '../src/face/student-graph.js';
import { seededRandom } from '../src/math/random.js';
import { maxRelativeError } from './reference.js';

function tfjsStudent(weights: ReturnType<typeof initWeights>, x: Float32Array, batch: number): Float32Array {
  const w = (name: string) => { const t = weights.get(name)!; return tf.tensor(t.data, t.shape); };
  return tf.tidy(() => {
    let y: tf.Tensor = tf.tensor4d(x, [batch, 55, 47, 3]);
    for (const name of ['conv1', 'conv2', 'conv3']) {
      y = tf.relu(tf.add(tf.conv2d(y as tf.Tensor4D, w(`${name}.w`) as tf.Tensor4D, 1, 'valid'), w(`${name}.b`)));
      y = tf.maxPool(y as tf.Tensor4D, 2, 2, 'valid');
    }
    y = tf.reshape(y, [batch, -1]);
    for (const name of ['fc1', 'fc2', 'fc3']) y = tf.relu(tf.add(tf.matMul(y as tf.Tensor2D, w(`${name}.w`) as tf.Tensor2D), w(`${name}.b`)));
    return y.dataSync() as Float32Array;
  });
}

describe('MobileID student', () => {
  it('matches @tensorflow/tfjs within 1e-4 relative, batch 1 and 5', async () => {
    await tf.setBackend('cpu');
    const graph = studentGraph();
    const weights = initWeights(graph, 7);
    const engine = await Engine.create();
    const model = engine.loadModel(encodeModel(graph, weights));
    const random = seededRandom(3);
    for (const batch of [1, 5]) {
      const x = Float32Array.from({ length: batch * 55 * 47 * 3 }, () => random() * 3.2 - 1.6);
      const ours = model.run(x, batch);
      const theirs = tfjsStudent(weights, x, batch);
      expect(ours.length).toBe(batch * 422);
      expect(maxRelativeError(ours, theirs)).toBeLessThanOrEqual(1e-4);
      // a real signal, not all zeros after the final ReLU
      expect(ours.filter((v) => v > 0).length).toBeGreaterThan(batch * 50);
    }
  });
  it('has the published size: 1,179,414 parameters', () => {
    const graph = studentGraph();
    let count = 0;
    for (const t of initWeights(graph).values()) count += t.data.length;
    expect(count).toBe(1_179_414);
  });
});
