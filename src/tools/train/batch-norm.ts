/**
 * Batch normalisation in training (Ioffe & Szegedy, ICML 2015): after every convolution and every
 * hidden dense layer, before its activation, each channel is normalised with the statistics of the
 * batch (of the worker's shard of it) and scaled and shifted by a learnt gamma and beta:
 *   y = act(gamma * (z - mean) / sqrt(variance + epsilon) + beta).
 * Running averages of the batch statistics stand in for them outside training (validation, export).
 * The output layer has none: it regresses the targets.
 *
 * The model file has no batch-norm layer: at export the scale and shift are folded into the
 * preceding layer's weights and bias (foldBatchNorm), so inference cost and format are unchanged.
 *
 * The four tensors of a normalised layer live in the flat parameter vector (parameters.ts) beside
 * its weights: gamma and beta are trained like biases (no decay); mean and variance are statistics,
 * not trained: during accumulate() the network writes (images x the shard's batch mean and unbiased
 * variance) into their gradient slots, so shards add up like gradients and the trainer, after
 * dividing by the batch size, blends them into the running averages (BATCH_NORM_MOMENTUM).
 */
import type { ConvLayer, DenseLayer, GraphSpec } from '../../engine/graph.js';
import type { Tensor } from '../../engine/model-format.js';
import { TrainingError } from './errors.js';

export const BATCH_NORM_EPSILON = 1e-5;
/** Weight of the newest batch in the running averages (running += momentum * (batch - running)). */
export const BATCH_NORM_MOMENTUM = 0.1;

export interface BatchNormNames {
  gamma: string;
  beta: string;
  mean: string;
  variance: string;
}

/** Tensor names of the normalisation after `layer`. */
export function batchNormNames(layer: ConvLayer | DenseLayer): BatchNormNames {
  const base = `${layer.output}.bn`;
  return { gamma: `${base}.gamma`, beta: `${base}.beta`, mean: `${base}.mean`, variance: `${base}.variance` };
}

/** The layers followed by a normalisation: every conv, every dense layer but the output. */
export function normalizedLayers(graph: GraphSpec): (ConvLayer | DenseLayer)[] {
  const output = graph.outputs[0];
  return graph.layers.filter((l): l is ConvLayer | DenseLayer => l.op === 'conv' || (l.op === 'dense' && l.output !== output));
}

const channelsOf = (layer: ConvLayer | DenseLayer) => (layer.op === 'conv' ? layer.cout : layer.units);

/** `tensors` plus the identity normalisation (gamma 1, beta 0, mean 0, variance 1) of every normalised layer. */
export function withBatchNorm(graph: GraphSpec, tensors: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map(tensors);
  for (const layer of normalizedLayers(graph)) {
    const n = channelsOf(layer);
    const names = batchNormNames(layer);
    const filled = (value: number): Tensor => ({ shape: [n], data: new Float32Array(n).fill(value) });
    out.set(names.gamma, filled(1)).set(names.beta, filled(0)).set(names.mean, filled(0)).set(names.variance, filled(1));
  }
  return out;
}

/**
 * The normalisation folded into the weights and biases (running statistics): the tensors of the
 * same graph without batch norm, whose forward pass equals the training network's in eval mode.
 *   w'[.., c] = w[.., c] * s[c],  b'[c] = (b[c] - mean[c]) * s[c] + beta[c],  s = gamma / sqrt(variance + epsilon)
 */
export function foldBatchNorm(graph: GraphSpec, tensors: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map([...tensors].map(([name, t]) => [name, { shape: [...t.shape], data: t.data.slice() }]));
  for (const layer of normalizedLayers(graph)) {
    const names = batchNormNames(layer);
    const get = (name: string) => {
      const t = out.get(name);
      if (!t) throw new TrainingError(`cannot fold batch norm: tensor "${name}" is missing`);
      return t.data;
    };
    if (layer.bias === undefined) throw new TrainingError(`cannot fold batch norm into layer "${layer.output}": it has no bias`);
    const [gamma, beta, mean, variance] = [names.gamma, names.beta, names.mean, names.variance].map(get);
    const w = get(layer.weights);
    const b = get(layer.bias);
    const n = channelsOf(layer);
    const scale = gamma.map((g, c) => g / Math.sqrt(variance[c] + BATCH_NORM_EPSILON));
    // conv HWIO and dense [in][out] both keep the output channel last
    for (let i = 0; i < w.length; i++) w[i] *= scale[i % n];
    for (let c = 0; c < n; c++) b[c] = (b[c] - mean[c]) * scale[c] + beta[c];
    for (const name of Object.values(names)) out.delete(name);
  }
  return out;
}
