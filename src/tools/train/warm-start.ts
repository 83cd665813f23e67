/**
 * Warm start from a model file that distill wrote (--init-from models/<name>.mobileid, with its
 * <name>.train.json beside it), e.g. the shipped student. A checkpoint lives only on the machine
 * that trained it; the model file is committed, so training can go on from it on a fresh machine.
 *
 * The file holds the network as exported: the target standardisation folded into the last layer
 * and batch norm into every normalised layer (targets.ts, batch-norm.ts). Both are undone:
 * - the standardisation exactly, with the values the run's log records;
 * - batch norm by a data-dependent initialisation: on a calibration batch of training crops each
 *   normalisation in turn becomes the identity on that batch (gamma = the batch's standard
 *   deviation, beta = its mean, running statistics the same), so the training network computes
 *   the model file's function, in eval mode on any input, in training mode on that batch.
 * Weights stored with 8 bits (q8) come back as the values the codes stand for; training refines them.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Engine } from '../../engine/engine.js';
import type { GraphSpec } from '../../engine/graph.js';
import { decodeModel, type Tensor } from '../../engine/model-format.js';
import { BATCH_NORM_EPSILON, batchNormNames, normalizedLayers, withBatchNorm } from './batch-norm.js';
import type { RunRecord } from './distill.js';
import { TrainingError } from './errors.js';
import { TrainingNetwork } from './network.js';
import { ParameterLayout } from './parameters.js';
import { initWeights } from '../../face/student-graph.js';

/** The run log written next to a model file: models/<name>.mobileid -> models/<name>.train.json. */
export function runLogOf(modelFile: string): string {
  return modelFile.replace(/\.mobileid$/, '.train.json');
}

/** The run log beside a model file distill wrote, checked to be one; `who` (e.g. "--init-from") starts each error. */
export function readRunLog(modelFile: string, who: string): RunRecord {
  const runLog = runLogOf(modelFile);
  if (!existsSync(modelFile)) throw new TrainingError(`${who}: ${modelFile} not found`);
  if (runLog === modelFile || !existsSync(runLog)) throw new TrainingError(`${who}: ${modelFile} needs its run log ${runLog} (distill writes it)`);
  let run: RunRecord;
  try {
    run = JSON.parse(readFileSync(runLog, 'utf8')) as RunRecord;
  } catch {
    throw new TrainingError(`${who}: ${runLog} is not valid JSON`);
  }
  if (!run?.options?.data || !Array.isArray(run.history)) throw new TrainingError(`${who}: ${runLog} is not a distill run log`);
  return run;
}

/** A model file's tensors, checked to hold `graph` (the export graph of the run that continues from it). */
export function readModelTensors(bytes: Uint8Array, file: string, graph: GraphSpec): Map<string, Tensor> {
  const decoded = decodeModel(bytes);
  const layers = (g: GraphSpec) => JSON.stringify(g.layers);
  if (layers(decoded.graph) !== layers(graph)) {
    throw new TrainingError(`--init-from: ${file} holds another network than this run trains (its layers differ)`);
  }
  return decoded.tensors;
}

/**
 * `tensors` (batch norm folded in) plus, for every normalised layer, the normalisation that is the
 * identity on the `count` preprocessed crops of `input`: set layer by layer, each from the
 * statistics its input has once the layers before it are already the identity.
 */
export function calibrateBatchNorm(engine: Engine, graph: GraphSpec, tensors: Map<string, Tensor>, input: Float32Array, count: number): Map<string, Tensor> {
  const out = withBatchNorm(graph, tensors);
  const network = new TrainingNetwork(engine, graph, out, count, { batchNorm: true });
  try {
    for (const layer of normalizedLayers(graph)) {
      network.forward(input, count, true);
      const { mean, variance } = network.batchStatistics(layer.output);
      const names = batchNormNames(layer);
      const vector = (values: ArrayLike<number>) => ({ shape: [values.length], data: Float32Array.from(values) });
      out.set(names.gamma, vector(Array.from(variance, (v) => Math.sqrt(v + BATCH_NORM_EPSILON))));
      out.set(names.beta, vector(mean));
      out.set(names.mean, vector(mean));
      out.set(names.variance, vector(variance));
      network.setWeights(network.layout.flatten(out));
    }
    return out;
  } finally {
    network.dispose();
  }
}

/** The parameter layout of a training graph (it only reads the shapes of the initial tensors). */
export function trainingLayout(graph: GraphSpec, batchNorm: boolean): ParameterLayout {
  return ParameterLayout.of(graph, batchNorm ? withBatchNorm(graph, initWeights(graph)) : initWeights(graph), batchNorm);
}

/**
 * Learning-rate multipliers for a run grown from `from` (Optimizer's rateScale): `rate` for the
 * trained tensors that `from` lacks, 1 for the rest. A residual branch that starts at zero output
 * has a zero batch-norm scale, and at a warm start's small rate that scale barely grows, so the
 * branch stays almost shut; a larger rate for its tensors lets it open.
 */
export function grownRateScale(from: GraphSpec, layout: ParameterLayout, batchNorm: boolean, rate: number): { scale: Float32Array; tensors: string[] } {
  const old = new Set(trainingLayout(from, batchNorm).entries.map((e) => e.name));
  const scale = new Float32Array(layout.size).fill(1);
  const grown = layout.entries.filter((e) => !old.has(e.name) && !e.statistic);
  for (const e of grown) scale.fill(rate, e.offset, e.offset + e.length);
  return { scale, tensors: grown.map((e) => e.name) };
}

/**
 * The weights of `graph` grown from a run of a smaller layout (`from`, the run's training graph,
 * and its weight vector, the same batch-norm setting): every tensor of `from` is copied by name
 * (it must exist in `graph` with the same shape), the others keep their values in `initial`, and
 * each layer that `from` lacks and that a residual add reads starts with a zero output (batch
 * norm's gamma and beta, or without batch norm its weights and bias): the grown network computes
 * what the smaller one did (zero-initialised residual branches, Goyal et al. 2017).
 */
export function growWeights(
  from: GraphSpec, fromWeights: Float32Array, graph: GraphSpec, initial: Map<string, Tensor>, batchNorm: boolean,
): { tensors: Map<string, Tensor>; copied: number; added: string[] } {
  const fromLayout = trainingLayout(from, batchNorm);
  if (fromWeights.length !== fromLayout.size) throw new TrainingError(`--init-from: the run holds ${fromWeights.length} weights, its layout ${fromLayout.size}`);
  const out = new Map(initial);
  for (const [name, tensor] of fromLayout.tensors(fromWeights)) {
    const mine = initial.get(name);
    if (!mine || mine.shape.join() !== tensor.shape.join()) {
      throw new TrainingError(`--init-from: cannot grow into this layout: tensor "${name}" [${tensor.shape}] ${mine ? `is [${mine.shape}] here` : 'is not in it'}`);
    }
    out.set(name, tensor);
  }
  const fromLayers = new Set(from.layers.map((layer) => layer.output));
  const added = graph.layers.filter((layer) => !fromLayers.has(layer.output)).map((layer) => layer.output);
  const zero = (name: string) => out.set(name, { shape: [...out.get(name)!.shape], data: new Float32Array(out.get(name)!.data.length) });
  for (const add of graph.layers) {
    if (add.op !== 'add') continue;
    for (const input of add.inputs) {
      const layer = graph.layers.find((l) => l.output === input);
      if (!layer || fromLayers.has(input) || (layer.op !== 'conv' && layer.op !== 'dense')) continue;
      if (batchNorm) {
        const names = batchNormNames(layer);
        zero(names.gamma);
        zero(names.beta);
      } else {
        zero(layer.weights);
        if (layer.bias) zero(layer.bias);
      }
    }
  }
  return { tensors: out, copied: fromLayout.entries.length, added };
}

