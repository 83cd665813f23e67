/**
 * A conv / maxpool / dense / ReLU / PReLU graph with residual adds, differentiable: forward pass
 * keeping every activation of the batch, L2 loss, backward pass accumulating the gradient of the
 * weights. Layers run in graph order; a tensor read by two layers (a residual block's input, read
 * by its body and by the add) gets the sum of their gradients.
 * Runs on the engine's wasm kernels (forward: the inference kernels themselves; backward:
 * assembly/*_backward.ts), in the engine's arena, in one block laid out at construction.
 *
 * Like inference (src/engine/model.ts), layers before the first dense layer run image by image (their
 * gradient buffers hold one image, so they stay cache-resident) and dense layers run over the
 * whole batch as GEMMs.
 *
 * Loss of one image: 1/2 * sum_j (y_j - t_j)^2 (Caffe's EuclideanLoss per image, as in the
 * paper), optionally plus cosineWeight * (1 - cos(y, t)): the squared error fixes the scale and
 * the cosine term the direction, which is what a cosine verifier reads. Optionally plus
 * relationWeight times RKD's distance term (Park et al., CVPR 2019): over the pairs of images
 * of one accumulate() call, the Huber loss between the student's and the teacher's pairwise
 * Euclidean distances, each divided by its mean over those pairs, scaled so that it adds the weight
 * times the mean pair loss per image. `accumulate` returns
 * the SUM over the images of the squared-error part (so training and validation losses stay
 * comparable whatever the objective) and adds the gradient of the whole objective, so shards of
 * a batch computed anywhere add up; the caller divides by the batch size.
 *
 * With the batchNorm option every conv and hidden dense layer is followed by a batch
 * normalisation (batch-norm.ts): accumulate() normalises with the statistics of the images it is
 * given, loss() and forward() with the running averages unless asked for batch statistics. The
 * statistics couple the images of a batch, so every layer then runs layer by layer over the whole
 * batch, with gradient buffers for all images.
 *
 * A conv or dense layer may end in a PReLU (He et al., ICCV 2015): y = x < 0 ? slope[c] * x : x,
 * with one learnt slope per channel (in the parameter vector after the layer's bias, no decay).
 * Its input x is kept for the backward pass (the output cannot give it back where a slope is 0).
 */
import type { Engine, Kernels } from '../../engine/engine.js';
import type { ActivationLayer, AddLayer, ConvLayer, DenseLayer, GraphSpec, PoolLayer } from '../../engine/graph.js';
import type { Tensor } from '../../engine/model-format.js';
import { elements, inferShapes, isDepthwise, type Shape } from '../../engine/plan.js';
import { TrainingError, UnsupportedLayerError } from './errors.js';
import { packPanels, packTransposedPanels, panelsLength } from '../../engine/packing.js';
import { ParameterLayout } from './parameters.js';
import { BATCH_NORM_EPSILON, batchNormNames, normalizedLayers } from './batch-norm.js';

/** The backward kernels of assembly/index.ts (raw pointers, like Kernels). */
export type TrainingKernels = Kernels & {
  conv2dBackwardWeights(
    input: number, inWidth: number, cin: number, gradOut: number, outHeight: number, outWidth: number, cout: number,
    gradWeights: number, kh: number, kw: number, sh: number, sw: number,
  ): void;
  conv2dBackwardInput(
    gradOut: number, outHeight: number, outWidth: number, cout: number, grid: number, gridHeight: number, gridWidth: number,
    gradIn: number, inHeight: number, inWidth: number, cin: number, packedT: number, zeroBias: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number,
  ): void;
  biasBackward(gradOut: number, pixels: number, channels: number, gradBias: number): void;
  depthwiseBackwardWeights(
    input: number, inWidth: number, channels: number, gradOut: number, outHeight: number, outWidth: number,
    gradWeights: number, kh: number, kw: number, sh: number, sw: number,
  ): void;
  depthwiseBackwardInput(
    gradOut: number, outHeight: number, outWidth: number, channels: number, weights: number, grid: number, gridHeight: number, gridWidth: number,
    gradIn: number, inHeight: number, inWidth: number, kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number,
  ): void;
  maxPoolBackward(
    input: number, inHeight: number, inWidth: number, channels: number, gradOut: number, outHeight: number, outWidth: number,
    gradIn: number, kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number,
  ): void;
  denseBackwardWeights(input: number, batch: number, inputs: number, gradOut: number, units: number, gradWeights: number): void;
  denseBackwardInput(gradOut: number, batch: number, units: number, gradIn: number, inputs: number, packedT: number, zeroBias: number): void;
  reluBackward(grad: number, output: number, count: number): void;
  preluBackward(grad: number, x: number, rows: number, channels: number, slope: number, gradSlope: number): void;
  batchNormStatistics(x: number, rows: number, channels: number, mean: number, inverseStd: number, epsilon: number): void;
  batchNormGradientSums(g: number, z: number, rows: number, channels: number, sumG: number, sumGz: number): void;
  batchNormInputGradient(g: number, z: number, rows: number, channels: number, a: number, b: number, d: number): void;
};

/** The layers training has a backward pass for. */
type TrainableLayer = ConvLayer | PoolLayer | DenseLayer | ActivationLayer | AddLayer;
/** The tensors a layer reads. */
const inputsOf = (layer: TrainableLayer): string[] => (layer.op === 'add' ? [...layer.inputs] : [layer.input]);

const ACT_NONE = 0;
const ACT_RELU = 1;
const ACT_PRELU = 3;
const ceil8 = (n: number) => Math.ceil(n / 8) * 8;
/** Channels of a depthwise kernel tap in the forward kernel's weight layout (assembly/depthwise.ts). */
const depthwiseTapStride = (channels: number) => Math.ceil(channels / 4) * 4;

/** Byte address of one image's slice of a tensor buffer (stride 0: a one-image buffer). */
interface Buffer {
  base: number;
  stride: number;
}
const at = (buffer: Buffer, image: number) => buffer.base + image * buffer.stride;

/** What a layer needs from the arena besides activations: packed weights and gradient slots (0: none). */
interface LayerWeights {
  packed: number;
  bias: number;
  packedT: number;
  gradWeights: number;
  gradBias: number;
  /** PReLU slopes (padded to 8 channels for the kernels' epilogues) and their gradient slot. */
  slope: number;
  gradSlope: number;
}

/** A normalised layer: its pre-normalisation output, tensor names, current parameters and batch statistics. */
interface Normalization {
  pre: number;
  names: ReturnType<typeof batchNormNames>;
  gamma: Float32Array;
  beta: Float32Array;
  runningMean: Float32Array;
  runningVariance: Float32Array;
  /** Of the last forward pass: the mean and 1 / sqrt(variance + epsilon) it normalised with. */
  mean: Float64Array;
  inverseStd: Float64Array;
}

/** Lays out the pieces of the network's arena block: byte offsets from its start, 16-byte aligned. */
class BlockPlanner {
  bytes = 0;
  take(floats: number): number {
    const offset = this.bytes;
    this.bytes += Math.ceil((floats * 4) / 16) * 16;
    return offset;
  }
}

/**
 * Layers read earlier outputs (a residual block reads one twice: its body and the add); every
 * output but the last is read again, and the last is the graph's one output.
 */
function checkTrainable(graph: GraphSpec, shapes: Map<string, Shape>): void {
  const read = new Set(graph.layers.flatMap((layer) => (layer.op === 'add' ? layer.inputs : 'input' in layer ? [layer.input] : [])));
  for (const layer of graph.layers) {
    const where = `layer "${layer.output}" (${layer.op})`;
    if (!['conv', 'maxpool', 'dense', 'activation', 'add'].includes(layer.op)) throw new UnsupportedLayerError(`${where}: no backward pass for this op`);
    if ((layer.op === 'conv' || layer.op === 'dense') && !['none', 'relu', 'prelu'].includes(layer.activation.kind)) {
      throw new UnsupportedLayerError(`${where}: activation ${layer.activation.kind} is not supported in training (none, relu or prelu)`);
    }
    if ((layer.op === 'activation' || layer.op === 'add') && !['none', 'relu'].includes(layer.activation.kind)) {
      throw new UnsupportedLayerError(`${where}: ${layer.activation.kind} after ${layer.op === 'add' ? 'an add' : 'a separate activation layer'} is not supported in training (none or relu)`);
    }
    if (layer.op === 'add' && shapes.get(layer.inputs[0])!.join() !== shapes.get(layer.inputs[1])!.join()) {
      throw new UnsupportedLayerError(`${where}: adds tensors of different shapes; training adds equal shapes only`);
    }
    if (layer.op === 'conv' && layer.groups !== 1 && !isDepthwise(layer, shapes.get(layer.input)![2])) {
      throw new UnsupportedLayerError(`${where}: grouped convolutions other than depthwise are not supported in training`);
    }
    if (layer !== graph.layers[graph.layers.length - 1] && !read.has(layer.output)) {
      throw new UnsupportedLayerError(`${where}: its output is read by no later layer; a trained graph has one output, its last layer's`);
    }
  }
  const last = graph.layers[graph.layers.length - 1];
  if (graph.outputs.length !== 1 || graph.outputs[0] !== last?.output) {
    throw new UnsupportedLayerError('the graph must have one output: the last layer');
  }
}

export interface TrainingNetworkOptions {
  /** Also compute the gradient with respect to the network input (see inputGradient()). */
  inputGradient?: boolean;
  /** Weight of the per-image 1 - cos(y, t) term of the objective (default 0). */
  cosineWeight?: number;
  /** Weight of the relational distance term over the images of one accumulate() call (default 0). */
  relationWeight?: number;
  /** Batch normalisation after every conv and hidden dense layer (batch-norm.ts); `tensors` must hold its tensors. */
  batchNorm?: boolean;
}

export class TrainingNetwork {
  readonly layout: ParameterLayout;
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly kernels: TrainingKernels;
  private readonly shapes: Map<string, Shape>;
  private readonly layers: TrainableLayer[];
  private readonly firstBatched: number;
  private readonly block: { ptr: number; bytes: number };
  private readonly activations = new Map<string, Buffer>();
  private readonly gradients = new Map<string, Buffer>();
  /** Per PReLU layer index: its input, for every image of the batch. */
  private readonly preluInputs = new Map<number, Buffer>();
  private readonly weights: LayerWeights[] = [];
  private readonly gradientBlock: number;
  /** Tensors read by more than one layer: their gradient is summed over the readers (zeroed first). */
  private readonly shared = new Set<string>();
  /** Where a reader of a shared tensor writes its part of the gradient before adding it in. */
  private readonly sharedScratch: number;
  private readonly padScratch: number;
  private readonly gridScratch: number;
  private readonly zeroBias: number;
  /** Per-channel vectors of the batch-norm kernels: two f64 and three f32 arrays of the widest normalised layer. */
  private readonly normScratch: { f64: [number, number]; f32: [number, number, number] };
  private readonly withInputGradient: boolean;
  private readonly cosineWeight: number;
  private readonly relationWeight: number;
  /** Per layer index: its normalisation, if any. */
  private readonly normalizations = new Map<number, Normalization>();
  private disposed = false;

  /**
   * @param tensors initial weights (their shapes define the layout; values are loaded)
   * @param maxBatch largest number of images per forward/backward call
   */
  constructor(
    private readonly engine: Engine,
    readonly graph: GraphSpec,
    tensors: Map<string, Tensor>,
    readonly maxBatch: number,
    options: TrainingNetworkOptions = {},
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new TrainingError(`maxBatch must be a positive integer, got ${maxBatch}`);
    const kernels = engine.kernels as TrainingKernels;
    if (typeof kernels.conv2dBackwardWeights !== 'function') {
      throw new TrainingError('this wasm module has no training kernels; rebuild it with npm run build:wasm');
    }
    this.kernels = kernels;
    this.withInputGradient = options.inputGradient ?? false;
    this.cosineWeight = options.cosineWeight ?? 0;
    if (!(this.cosineWeight >= 0)) throw new TrainingError(`cosine weight must be >= 0, got ${options.cosineWeight}`);
    this.relationWeight = options.relationWeight ?? 0;
    if (!(this.relationWeight >= 0)) throw new TrainingError(`relation weight must be >= 0, got ${options.relationWeight}`);
    const batchNorm = options.batchNorm ?? false;
    this.layout = ParameterLayout.of(graph, tensors, batchNorm);
    this.shapes = inferShapes(graph, tensors);
    checkTrainable(graph, this.shapes);
    this.layers = graph.layers as TrainableLayer[];
    const firstDense = this.layers.findIndex((l) => l.op === 'dense');
    // batch statistics couple the images: every layer runs over the whole batch
    this.firstBatched = batchNorm ? 0 : firstDense < 0 ? this.layers.length : firstDense;
    const normalized = new Set(batchNorm ? normalizedLayers(graph) : []);
    const outputName = graph.outputs[0];
    this.inputSize = elements(this.shapes.get(graph.input.name)!);
    this.outputSize = elements(this.shapes.get(outputName)!);

    // one arena block: weights (packed both ways), gradients, activations, gradient buffers, scratch
    const plan = new BlockPlanner();
    const size = (name: string) => elements(this.shapes.get(name)!);
    const weightPlan = this.layers.map((layer) => {
      if (layer.op !== 'conv' && layer.op !== 'dense') return null;
      const [k, cin, cout] = this.gemmShape(layer);
      const transposedK = layer.op === 'conv' ? layer.kernel[0] * layer.kernel[1] * cout : cout;
      const slope = layer.activation.kind === 'prelu' ? layer.activation.slope : undefined;
      // a depthwise layer keeps one weight layout, the forward kernel's, for both passes
      const depthwise = layer.op === 'conv' && this.isDepthwise(layer);
      return {
        packed: plan.take(depthwise ? layer.kernel[0] * layer.kernel[1] * depthwiseTapStride(cout) : panelsLength(k, cout)),
        bias: plan.take(ceil8(cout)),
        packedT: depthwise ? -1 : plan.take(panelsLength(transposedK, cin)),
        slope: slope === undefined ? -1 : plan.take(ceil8(cout)),
        gradWeights: this.layout.entry(layer.weights).offset,
        gradBias: layer.bias === undefined ? -1 : this.layout.entry(layer.bias).offset,
        gradSlope: slope === undefined ? -1 : this.layout.entry(slope).offset,
      };
    });
    const gradientOffset = plan.take(this.layout.size);
    // a tensor read or written by a batched layer (the input of the first dense layer, written by its
    // batched backward, and everything after it) has a gradient for every image; the others, for one
    const readers = new Map<string, number[]>();
    this.layers.forEach((layer, i) => inputsOf(layer).forEach((name) => readers.set(name, [...(readers.get(name) ?? []), i])));
    for (const [name, by] of readers) if (by.length > 1) this.shared.add(name);
    const batchedGradient = (name: string, i: number) =>
      i >= this.firstBatched || name === outputName || (readers.get(name) ?? []).some((j) => j >= this.firstBatched);
    let sharedFloats = 0;
    const activationOffsets = new Map<string, number>([[graph.input.name, plan.take(maxBatch * this.inputSize)]]);
    const gradientOffsets = new Map<string, [number, boolean]>();
    if (this.withInputGradient) gradientOffsets.set(graph.input.name, [plan.take(maxBatch * this.inputSize), true]);
    let padFloats = 0;
    let gridFloats = 0;
    let zeroFloats = 8;
    const preOffsets = new Map<number, number>();
    const preluOffsets = new Map<number, number>();
    this.layers.forEach((layer, i) => {
      activationOffsets.set(layer.output, plan.take(maxBatch * size(layer.output)));
      if (normalized.has(layer as ConvLayer | DenseLayer)) preOffsets.set(i, plan.take(maxBatch * size(layer.output)));
      if ((weightPlan[i]?.slope ?? -1) >= 0) preluOffsets.set(i, plan.take(maxBatch * size(layer.output)));
      const batched = batchedGradient(layer.output, i);
      gradientOffsets.set(layer.output, [plan.take((batched ? maxBatch : 1) * size(layer.output)), batched]);
      if (this.shared.has(layer.output)) sharedFloats = Math.max(sharedFloats, (batched ? maxBatch : 1) * size(layer.output));
      if (layer.op === 'conv') {
        const [h, w, c] = this.shapes.get(layer.input)!;
        const [pt, pl, pb, pr] = layer.pad;
        const [kh, kw] = layer.kernel;
        if (pt + pl + pb + pr > 0) padFloats = Math.max(padFloats, (h + pt + pb) * (w + pl + pr) * c);
        gridFloats = Math.max(gridFloats, (h + pt + pb + kh - 1) * (w + pl + pr + kw - 1) * layer.cout);
        zeroFloats = Math.max(zeroFloats, ceil8(c));
      } else if (layer.op === 'dense') {
        zeroFloats = Math.max(zeroFloats, ceil8(size(layer.input)));
      }
    });
    if (this.shared.has(graph.input.name)) sharedFloats = Math.max(sharedFloats, maxBatch * this.inputSize);
    const sharedOffset = plan.take(sharedFloats);
    const padOffset = plan.take(padFloats);
    const gridOffset = plan.take(gridFloats);
    const zeroOffset = plan.take(zeroFloats);
    const normChannels = Math.max(0, ...[...normalized].map((layer) => this.shapes.get(layer.output)![2]));
    const normOffsets = [plan.take(2 * normChannels), plan.take(2 * normChannels), plan.take(normChannels), plan.take(normChannels), plan.take(normChannels)];

    const ptr = engine.arena.alloc(plan.bytes);
    this.block = { ptr, bytes: plan.bytes };
    engine.arena.u8.fill(0, ptr, ptr + plan.bytes); // padding lanes of packed weights must be zero
    this.gradientBlock = ptr + gradientOffset;
    for (const entry of weightPlan) {
      if (!entry) {
        this.weights.push({ packed: 0, bias: 0, packedT: 0, gradWeights: 0, gradBias: 0, slope: 0, gradSlope: 0 });
        continue;
      }
      this.weights.push({
        packed: ptr + entry.packed,
        bias: ptr + entry.bias,
        packedT: entry.packedT < 0 ? 0 : ptr + entry.packedT,
        gradWeights: this.gradientBlock + entry.gradWeights * 4,
        gradBias: entry.gradBias < 0 ? 0 : this.gradientBlock + entry.gradBias * 4,
        slope: entry.slope < 0 ? 0 : ptr + entry.slope,
        gradSlope: entry.gradSlope < 0 ? 0 : this.gradientBlock + entry.gradSlope * 4,
      });
    }
    for (const [name, offset] of activationOffsets) this.activations.set(name, { base: ptr + offset, stride: size(name) * 4 });
    for (const [i, offset] of preluOffsets) this.preluInputs.set(i, { base: ptr + offset, stride: size(this.layers[i].output) * 4 });
    for (const [name, [offset, batched]] of gradientOffsets) {
      this.gradients.set(name, { base: ptr + offset, stride: batched ? size(name) * 4 : 0 });
    }
    for (const [i, offset] of preOffsets) {
      const layer = this.layers[i] as ConvLayer | DenseLayer;
      const channels = this.shapes.get(layer.output)![2];
      this.normalizations.set(i, {
        pre: ptr + offset, names: batchNormNames(layer),
        gamma: new Float32Array(channels), beta: new Float32Array(channels),
        runningMean: new Float32Array(channels), runningVariance: new Float32Array(channels),
        mean: new Float64Array(channels), inverseStd: new Float64Array(channels),
      });
    }
    this.sharedScratch = ptr + sharedOffset;
    this.padScratch = ptr + padOffset;
    this.gridScratch = ptr + gridOffset;
    this.zeroBias = ptr + zeroOffset;
    const [v0, v1, v2, v3, v4] = normOffsets.map((offset) => ptr + offset);
    this.normScratch = { f64: [v0, v1], f32: [v2, v3, v4] };
    this.setWeights(this.layout.flatten(tensors));
  }

  /** Loads a flat weight vector (ParameterLayout order) into the kernels' packed layouts. */
  setWeights(vector: Float32Array): void {
    this.assertUsable();
    if (vector.length !== this.layout.size) throw new TrainingError(`weight vector has ${vector.length} values, expected ${this.layout.size}`);
    const f32 = this.engine.arena.f32;
    this.layers.forEach((layer, i) => {
      if (layer.op !== 'conv' && layer.op !== 'dense') return;
      const slots = this.weights[i];
      const [k, cin, cout] = this.gemmShape(layer);
      const w = this.layout.view(vector, layer.weights);
      if (layer.bias !== undefined) f32.set(this.layout.view(vector, layer.bias), slots.bias >> 2);
      if (layer.activation.kind === 'prelu') f32.set(this.layout.view(vector, layer.activation.slope), slots.slope >> 2);
      const [kh, kw] = layer.op === 'conv' ? layer.kernel : [1, 1];
      if (layer.op === 'conv' && this.isDepthwise(layer)) {
        // [kh][kw][c] -> the same with c padded (the padding lanes stay zero)
        const stride = depthwiseTapStride(cout);
        for (let tap = 0; tap < kh * kw; tap++) f32.set(w.subarray(tap * cout, (tap + 1) * cout), (slots.packed >> 2) + tap * stride);
        return;
      }
      packPanels(w, k, cout, f32, slots.packed >> 2);
      packTransposedPanels(w, kh, kw, cin, cout, f32, slots.packedT >> 2);
    });
    for (const n of this.normalizations.values()) {
      n.gamma.set(this.layout.view(vector, n.names.gamma));
      n.beta.set(this.layout.view(vector, n.names.beta));
      n.runningMean.set(this.layout.view(vector, n.names.mean));
      n.runningVariance.set(this.layout.view(vector, n.names.variance));
    }
  }

  /** Sets the gradient accumulator to zero. */
  zeroGradients(): void {
    this.assertUsable();
    this.engine.arena.f32.fill(0, this.gradientBlock >> 2, (this.gradientBlock >> 2) + this.layout.size);
  }

  /** The accumulated gradient (ParameterLayout order), copied into `into`. */
  readGradients(into: Float32Array = new Float32Array(this.layout.size)): Float32Array {
    this.assertUsable();
    const start = this.gradientBlock >> 2;
    into.set(this.engine.arena.f32.subarray(start, start + this.layout.size));
    return into;
  }

  /** d loss / d input of the last accumulate() call (needs the inputGradient option). */
  inputGradient(count: number): Float32Array {
    this.assertUsable();
    const buffer = this.gradients.get(this.graph.input.name);
    if (!buffer) throw new TrainingError('construct the network with { inputGradient: true } to get input gradients');
    return this.engine.arena.f32.slice(buffer.base >> 2, (buffer.base >> 2) + count * this.inputSize);
  }

  /**
   * Forward pass of `count` images (NHWC, already preprocessed); returns count x outputSize.
   * Batch norm uses the running averages (eval mode) unless `batchStatistics`.
   */
  forward(input: Float32Array, count: number, batchStatistics = false): Float32Array {
    this.runForward(input, count, batchStatistics);
    const start = this.activations.get(this.graph.outputs[0])!.base >> 2;
    return this.engine.arena.f32.slice(start, start + count * this.outputSize);
  }

  /**
   * The per-channel mean and (biased) variance of the values normalised after layer `output` in
   * the last forward pass with batch statistics (warm-start.ts calibrates batch norm with them).
   */
  batchStatistics(output: string): { mean: Float64Array; variance: Float64Array } {
    this.assertUsable();
    const entry = [...this.normalizations].find(([i]) => this.layers[i].output === output);
    if (!entry) throw new TrainingError(`layer "${output}" has no batch norm`);
    const n = entry[1];
    return { mean: n.mean.slice(), variance: n.inverseStd.map((s) => 1 / (s * s) - BATCH_NORM_EPSILON) };
  }

  /** Sum over the images of 1/2 ||y - t||^2, without touching the gradients (batch norm as in forward()). */
  loss(input: Float32Array, targets: Float32Array, count: number, batchStatistics = false): number {
    this.checkTargets(targets, count);
    this.runForward(input, count, batchStatistics);
    return this.outputLoss(targets, count, false);
  }

  /**
   * Forward + backward: returns the summed loss of the `count` images and adds its gradient
   * to the accumulator (call zeroGradients() first to start a new batch).
   */
  accumulate(input: Float32Array, targets: Float32Array, count: number): number {
    this.checkTargets(targets, count);
    this.runForward(input, count, true);
    this.addBatchStatistics(count);
    const loss = this.outputLoss(targets, count, true);
    this.zeroSharedGradients(true, count);
    for (let i = this.layers.length - 1; i >= this.firstBatched; i--) {
      this.normalizationBackward(i, count);
      this.backwardLayer(i, count);
    }
    for (let image = 0; image < count; image++) {
      this.zeroSharedGradients(false, 1);
      for (let i = this.firstBatched - 1; i >= 0; i--) this.backwardLayer(i, count, image);
    }
    return loss;
  }

  /** Zeroes the gradient of every shared tensor held for the whole batch (`batched`) or for one image. */
  private zeroSharedGradients(batched: boolean, count: number): void {
    for (const name of this.shared) {
      const buffer = this.gradients.get(name);
      if (!buffer || (buffer.stride > 0) !== batched) continue;
      const start = buffer.base >> 2;
      this.engine.arena.f32.fill(0, start, start + count * elements(this.shapes.get(name)!));
    }
  }

  /**
   * Where a layer's backward pass writes the gradient of its input `name` for image `image` (the
   * whole batch from image 0 for dense layers): the tensor's own buffer, or for a shared tensor
   * the scratch that addShared() then adds in; 0 when nothing needs it (the graph input, unless asked for).
   */
  private gradientTarget(name: string, image: number): number {
    const buffer = this.gradients.get(name);
    if (!buffer) return 0;
    return this.shared.has(name) ? this.sharedScratch : at(buffer, image);
  }

  /** Adds `floats` values at `from` into the gradient of shared tensor `name` (image `image` on). */
  private addShared(name: string, image: number, from: number, floats: number): void {
    const to = at(this.gradients.get(name)!, image);
    this.kernels.add(to, 1, 1, floats, from, 1, 1, floats, to, ACT_NONE, 0, 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.arena.release(this.block.ptr, this.block.bytes);
  }

  private isDepthwise(layer: ConvLayer): boolean {
    return isDepthwise(layer, this.shapes.get(layer.input)![2]);
  }

  /** [rows of the weight matrix (taps), input channels, output channels] of a conv/dense layer. */
  private gemmShape(layer: ConvLayer | DenseLayer): [number, number, number] {
    const [, , c] = this.shapes.get(layer.input)!;
    if (layer.op === 'conv') return [layer.kernel[0] * layer.kernel[1] * c, c, layer.cout];
    const n = elements(this.shapes.get(layer.input)!);
    return [n, n, layer.units];
  }

  private assertUsable(): void {
    if (this.disposed) throw new TrainingError('this TrainingNetwork has been disposed');
    this.engine.assertUsable();
  }

  private checkTargets(targets: Float32Array, count: number): void {
    if (targets.length < count * this.outputSize) {
      throw new TrainingError(`targets have ${targets.length} values, ${count} images need ${count * this.outputSize}`);
    }
  }

  private runForward(input: Float32Array, count: number, batchStatistics = false): void {
    this.assertUsable();
    if (!Number.isInteger(count) || count < 1 || count > this.maxBatch) {
      throw new TrainingError(`count must be an integer in 1..${this.maxBatch}, got ${count}`);
    }
    if (input.length < count * this.inputSize) throw new TrainingError(`input has ${input.length} values, ${count} images need ${count * this.inputSize}`);
    this.engine.arena.f32.set(input.subarray(0, count * this.inputSize), this.activations.get(this.graph.input.name)!.base >> 2);
    for (let image = 0; image < count; image++) {
      for (let i = 0; i < this.firstBatched; i++) this.forwardLayer(i, image, count);
    }
    for (let i = this.firstBatched; i < this.layers.length; i++) {
      if (this.layers[i].op === 'dense') this.forwardLayer(i, 0, count);
      else for (let image = 0; image < count; image++) this.forwardLayer(i, image, count);
      this.normalize(i, count, batchStatistics);
    }
  }

  /** The activation fused into layer i's kernel: ReLU unless a normalisation comes between (PReLU runs after: preluForward). */
  private fusedActivation(i: number): number {
    const layer = this.layers[i] as ConvLayer | DenseLayer;
    return layer.activation.kind === 'relu' && !this.normalizations.has(i) ? ACT_RELU : ACT_NONE;
  }

  /**
   * Batch norm of layer i (if it has one), in place over the batch: z (kept in `pre`) ->
   * act(gamma * (z - mean) * inverseStd + beta), with the batch's or the running statistics.
   */
  private normalize(i: number, count: number, batchStatistics: boolean): void {
    const n = this.normalizations.get(i);
    if (!n) return;
    const layer = this.layers[i] as ConvLayer | DenseLayer;
    const f32 = this.engine.arena.f32;
    const out = this.activations.get(layer.output)!.base >> 2;
    const pre = n.pre >> 2;
    const channels = n.gamma.length;
    const values = count * elements(this.shapes.get(layer.output)!);
    const rows = values / channels;
    f32.copyWithin(pre, out, out + values);
    const [meanAt, inverseStdAt] = this.normScratch.f64;
    const [scaleAt, shiftAt] = this.normScratch.f32;
    if (batchStatistics) {
      this.kernels.batchNormStatistics(n.pre, rows, channels, meanAt, inverseStdAt, BATCH_NORM_EPSILON);
      n.mean.set(this.f64Scratch(meanAt, channels));
      n.inverseStd.set(this.f64Scratch(inverseStdAt, channels));
    } else {
      for (let c = 0; c < channels; c++) {
        n.mean[c] = n.runningMean[c];
        n.inverseStd[c] = 1 / Math.sqrt(n.runningVariance[c] + BATCH_NORM_EPSILON);
      }
    }
    // y = act(scale * z + shift) per channel
    for (let c = 0; c < channels; c++) {
      const scale = n.gamma[c] * n.inverseStd[c];
      f32[(scaleAt >> 2) + c] = scale;
      f32[(shiftAt >> 2) + c] = n.beta[c] - scale * n.mean[c];
    }
    this.kernels.affine(n.pre, out << 2, rows, channels, scaleAt, shiftAt, layer.activation.kind === 'relu' ? ACT_RELU : ACT_NONE, 0, 0);
    this.preluForward(i, out << 2, 0, rows);
  }

  /** Layer i's PReLU, if it has one, in place on `pixels` x channels at `out` (image `image`'s slice), keeping its input. */
  private preluForward(i: number, out: number, image: number, pixels: number): void {
    const input = this.preluInputs.get(i);
    if (!input) return;
    const channels = this.shapes.get(this.layers[i].output)![2];
    const keep = at(input, image);
    this.engine.arena.u8.copyWithin(keep, out, out + pixels * channels * 4);
    this.kernels.activation(out, pixels, channels, ACT_PRELU, 0, this.weights[i].slope);
  }

  /**
   * Turns the gradient of layer i's output (image `image`'s slice of `pixels` x channels) into
   * that of its activation's input, in place; PReLU also adds its slopes' gradient.
   */
  private activationBackward(i: number, grad: number, image: number, pixels: number): void {
    const layer = this.layers[i] as ConvLayer | DenseLayer;
    const channels = this.shapes.get(layer.output)![2];
    if (layer.activation.kind === 'relu') this.kernels.reluBackward(grad, at(this.activations.get(layer.output)!, image), pixels * channels);
    if (layer.activation.kind === 'prelu') {
      const slots = this.weights[i];
      this.kernels.preluBackward(grad, at(this.preluInputs.get(i)!, image), pixels, channels, slots.slope, slots.gradSlope);
    }
  }

  /** `channels` f64 values of the batch-norm scratch at byte `at`, as a view into the arena. */
  private f64Scratch(at: number, channels: number): Float64Array {
    return new Float64Array(this.engine.arena.f32.buffer, at, channels);
  }

  /**
   * The batch statistics of the last (training) forward pass, times `count`, into the gradient
   * slots of the running mean and variance (unbiased), where shards add up (batch-norm.ts).
   */
  private addBatchStatistics(count: number): void {
    const f32 = this.engine.arena.f32;
    const gradients = this.gradientBlock >> 2;
    for (const [i, n] of this.normalizations) {
      const rows = (count * elements(this.shapes.get(this.layers[i].output)!)) / n.gamma.length;
      const unbiased = rows > 1 ? rows / (rows - 1) : 1;
      const mean = gradients + this.layout.entry(n.names.mean).offset;
      const variance = gradients + this.layout.entry(n.names.variance).offset;
      for (let c = 0; c < n.gamma.length; c++) {
        f32[mean + c] += count * n.mean[c];
        f32[variance + c] += count * unbiased * (1 / (n.inverseStd[c] * n.inverseStd[c]) - BATCH_NORM_EPSILON);
      }
    }
  }

  /**
   * Backward through layer i's batch norm (batch statistics) and activation: turns the gradient
   * of its output into that of z, in place, and adds d gamma, d beta:
   *   dz = gamma * inverseStd / N * (N g - sum g - x^ sum(g x^)),  x^ = (z - mean) * inverseStd.
   */
  private normalizationBackward(i: number, count: number): void {
    const n = this.normalizations.get(i);
    if (!n) return;
    const layer = this.layers[i] as ConvLayer | DenseLayer;
    const f32 = this.engine.arena.f32;
    const grad = this.gradients.get(layer.output)!.base;
    const values = count * elements(this.shapes.get(layer.output)!);
    const channels = n.gamma.length;
    const rows = values / channels;
    this.activationBackward(i, grad, 0, rows);
    const [sumGAt, sumGzAt] = this.normScratch.f64;
    this.kernels.batchNormGradientSums(grad, n.pre, rows, channels, sumGAt, sumGzAt);
    const sumG = this.f64Scratch(sumGAt, channels);
    const sumGz = this.f64Scratch(sumGzAt, channels);
    // sum(g x^) = inverseStd * (sum(g z) - mean * sum(g))
    const sumGx = sumGz.map((s, c) => n.inverseStd[c] * (s - n.mean[c] * sumG[c]));
    const gradients = this.gradientBlock >> 2;
    const dGamma = gradients + this.layout.entry(n.names.gamma).offset;
    const dBeta = gradients + this.layout.entry(n.names.beta).offset;
    for (let c = 0; c < channels; c++) {
      f32[dGamma + c] += sumGx[c];
      f32[dBeta + c] += sumG[c];
    }
    // dz = a g + b z + d per channel
    const [aAt, bAt, dAt] = this.normScratch.f32;
    for (let c = 0; c < channels; c++) {
      const a = n.gamma[c] * n.inverseStd[c];
      const b = (-a * sumGx[c] * n.inverseStd[c]) / rows;
      f32[(aAt >> 2) + c] = a;
      f32[(bAt >> 2) + c] = b;
      f32[(dAt >> 2) + c] = (-a * sumG[c]) / rows - b * n.mean[c];
    }
    this.kernels.batchNormInputGradient(grad, n.pre, rows, channels, aAt, bAt, dAt);
  }

  /**
   * Squared-error loss of the batch; with `withGradient` also writes the objective's dLoss/dy
   * (y - t, plus the cosine term's -w (t/(|y||t|) - (y.t) y/(|y|^3 |t|)), plus the relational
   * term's, see relationGradient()) into the output's gradient buffer.
   */
  private outputLoss(targets: Float32Array, count: number, withGradient: boolean): number {
    const f32 = this.engine.arena.f32;
    const y = this.activations.get(this.graph.outputs[0])!.base >> 2;
    const g = this.gradients.get(this.graph.outputs[0])!.base >> 2;
    const n = this.outputSize;
    let loss = 0;
    for (let i = 0; i < count * n; i++) {
      const d = f32[y + i] - targets[i];
      loss += d * d;
      if (withGradient) f32[g + i] = d;
    }
    if (withGradient && this.cosineWeight > 0) {
      for (let image = 0; image < count; image++) {
        const at = image * n;
        let yy = 0;
        let tt = 0;
        let yt = 0;
        for (let j = 0; j < n; j++) {
          const a = f32[y + at + j];
          const b = targets[at + j];
          yy += a * a;
          tt += b * b;
          yt += a * b;
        }
        const ny = Math.sqrt(yy);
        const nt = Math.sqrt(tt);
        if (ny < 1e-12 || nt < 1e-12) continue; // direction undefined: the squared error alone pulls y
        const w = this.cosineWeight;
        for (let j = 0; j < n; j++) {
          f32[g + at + j] -= w * (targets[at + j] / (ny * nt) - (yt * f32[y + at + j]) / (yy * ny * nt));
        }
      }
    }
    if (withGradient && this.relationWeight > 0 && count > 1) this.relationGradient(f32.subarray(y, y + count * n), targets, count, f32.subarray(g, g + count * n));
    return loss / 2;
  }

  /**
   * Adds the gradient of RKD's distance term to `gradient`. With d_ij = |y_i - y_j| over the P
   * pairs i < j, mu = sum d / P, psi = d / mu (likewise for the targets), delta = psi - psi_t and
   * h the Huber function (quadratic within 1), the term is w 2/(count - 1) sum_ij h(delta_ij).
   * Its derivative by d_ij, through psi_ij and through mu, is
   * c_ij = w 2/(count - 1) (h'(delta_ij) / mu - sum_kl h'(delta_kl) d_kl / (mu^2 P)),
   * and d_ij moves y_i along (y_i - y_j) / d_ij and y_j the opposite way.
   */
  private relationGradient(y: Float32Array, targets: Float32Array, count: number, gradient: Float32Array): void {
    const n = this.outputSize;
    const pairs = (count * (count - 1)) / 2;
    const distance = (v: ArrayLike<number>, i: number, j: number) => {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += (v[i * n + k] - v[j * n + k]) ** 2;
      return Math.sqrt(sum);
    };
    const dy = new Float64Array(pairs);
    const dt = new Float64Array(pairs);
    let sumY = 0;
    let sumT = 0;
    for (let i = 0, p = 0; i < count; i++) {
      for (let j = i + 1; j < count; j++, p++) {
        dy[p] = distance(y, i, j);
        dt[p] = distance(targets, i, j);
        sumY += dy[p];
        sumT += dt[p];
      }
    }
    if (sumY < 1e-12 || sumT < 1e-12) return; // all images alike: the distances have no scale to compare
    const muY = sumY / pairs;
    const muT = sumT / pairs;
    const slope = dy.map((d, p) => Math.max(-1, Math.min(1, d / muY - dt[p] / muT)));
    let throughMean = 0;
    for (let p = 0; p < pairs; p++) throughMean += slope[p] * dy[p];
    const scale = (this.relationWeight * 2) / (count - 1);
    for (let i = 0, p = 0; i < count; i++) {
      for (let j = i + 1; j < count; j++, p++) {
        if (dy[p] < 1e-12) continue; // two equal outputs: no direction to move them apart
        const c = (scale * (slope[p] / muY - throughMean / (muY * muY * pairs))) / dy[p];
        for (let k = 0; k < n; k++) {
          const step = c * (y[i * n + k] - y[j * n + k]);
          gradient[i * n + k] += step;
          gradient[j * n + k] -= step;
        }
      }
    }
  }

  /** Input of a conv layer for one image, zero-padded into scratch when the layer pads. */
  private convSource(layer: ConvLayer, image: number): { ptr: number; width: number } {
    const [h, w, c] = this.shapes.get(layer.input)!;
    const [pt, pl, pb, pr] = layer.pad;
    const src = at(this.activations.get(layer.input)!, image);
    if (pt + pl + pb + pr === 0) return { ptr: src, width: w };
    this.kernels.pad(src, h, w, c, this.padScratch, h + pt + pb, w + pl + pr, c, pt, pl);
    return { ptr: this.padScratch, width: w + pl + pr };
  }

  private forwardLayer(i: number, image: number, count: number): void {
    const k = this.kernels;
    const layer = this.layers[i];
    const out = at(this.activations.get(layer.output)!, image);
    const [oh, ow, oc] = this.shapes.get(layer.output)!;
    if (layer.op === 'add') {
      const [a, b] = layer.inputs.map((name) => at(this.activations.get(name)!, image));
      k.add(a, oh, ow, oc, b, oh, ow, oc, out, layer.activation.kind === 'relu' ? ACT_RELU : ACT_NONE, 0, 0);
      return;
    }
    const [h, w, c] = this.shapes.get(layer.input)!;
    switch (layer.op) {
      case 'conv': {
        const src = this.convSource(layer, image);
        const { packed, bias } = this.weights[i];
        const act = this.fusedActivation(i);
        if (this.isDepthwise(layer)) {
          k.depthwiseConv2d(src.ptr, src.width, c, out, oh, ow, packed, bias, layer.kernel[0], layer.kernel[1], layer.stride[0], layer.stride[1], act, 0, 0);
        } else {
          k.conv2d(src.ptr, src.width, c, c, out, oh, ow, oc, oc, packed, bias, layer.kernel[0], layer.kernel[1], layer.stride[0], layer.stride[1], act, 0, 0);
        }
        if (!this.normalizations.has(i)) this.preluForward(i, out, image, oh * ow);
        return;
      }
      case 'maxpool': {
        const src = at(this.activations.get(layer.input)!, image);
        k.maxPool(src, h, w, c, out, oh, ow, layer.kernel[0], layer.kernel[1], layer.stride[0], layer.stride[1], layer.pad[0], layer.pad[1]);
        return;
      }
      case 'dense': {
        const { packed, bias } = this.weights[i];
        const act = this.fusedActivation(i);
        k.dense(this.activations.get(layer.input)!.base, count, h * w * c, out, layer.units, packed, bias, act, 0, 0);
        if (!this.normalizations.has(i)) this.preluForward(i, out, 0, count);
        return;
      }
      case 'activation': {
        const src = at(this.activations.get(layer.input)!, image);
        this.engine.arena.u8.copyWithin(out, src, src + oh * ow * oc * 4);
        k.activation(out, oh * ow, oc, layer.activation.kind === 'relu' ? ACT_RELU : ACT_NONE, 0, 0);
        return;
      }
    }
  }

  /** Backward through layer i, for one image (per-image layers) or the whole batch (dense). */
  private backwardLayer(i: number, count: number, image = -1): void {
    const layer = this.layers[i];
    if (image < 0 && layer.op !== 'dense') {
      for (let b = 0; b < count; b++) this.backwardLayer(i, count, b);
      return;
    }
    const k = this.kernels;
    const gradOut = at(this.gradients.get(layer.output)!, Math.max(image, 0));
    const [oh, ow, oc] = this.shapes.get(layer.output)!;
    if (layer.op === 'add') {
      if (layer.activation.kind === 'relu') k.reluBackward(gradOut, at(this.activations.get(layer.output)!, image), oh * ow * oc);
      for (const name of layer.inputs) {
        if (!this.gradients.has(name)) continue;
        if (this.shared.has(name)) this.addShared(name, image, gradOut, oh * ow * oc);
        else this.engine.arena.u8.copyWithin(this.gradientTarget(name, image), gradOut, gradOut + oh * ow * oc * 4);
      }
      return;
    }
    const [h, w, c] = this.shapes.get(layer.input)!;
    const gradIn = this.gradientTarget(layer.input, Math.max(image, 0));
    switch (layer.op) {
      case 'conv': {
        const slots = this.weights[i];
        const [kh, kw] = layer.kernel;
        const [sh, sw] = layer.stride;
        const [pt, pl, pb, pr] = layer.pad;
        if (!this.normalizations.has(i)) this.activationBackward(i, gradOut, image, oh * ow);
        if (slots.gradBias) k.biasBackward(gradOut, oh * ow, oc, slots.gradBias);
        const src = this.convSource(layer, image);
        if (this.isDepthwise(layer)) {
          k.depthwiseBackwardWeights(src.ptr, src.width, c, gradOut, oh, ow, slots.gradWeights, kh, kw, sh, sw);
          if (gradIn) k.depthwiseBackwardInput(gradOut, oh, ow, c, slots.packed, this.gridScratch, h + pt + pb, w + pl + pr, gradIn, h, w, kh, kw, sh, sw, pt, pl);
        } else {
          k.conv2dBackwardWeights(src.ptr, src.width, c, gradOut, oh, ow, oc, slots.gradWeights, kh, kw, sh, sw);
          const gridHeight = h + pt + pb + kh - 1;
          const gridWidth = w + pl + pr + kw - 1;
          if (gradIn) k.conv2dBackwardInput(gradOut, oh, ow, oc, this.gridScratch, gridHeight, gridWidth, gradIn, h, w, c, slots.packedT, this.zeroBias, kh, kw, sh, sw, pt, pl);
        }
        break;
      }
      case 'maxpool': {
        if (!gradIn) return;
        const src = at(this.activations.get(layer.input)!, image);
        k.maxPoolBackward(src, h, w, c, gradOut, oh, ow, gradIn, layer.kernel[0], layer.kernel[1], layer.stride[0], layer.stride[1], layer.pad[0], layer.pad[1]);
        break;
      }
      case 'dense': {
        const slots = this.weights[i];
        const n = h * w * c;
        if (!this.normalizations.has(i)) this.activationBackward(i, gradOut, 0, count);
        if (slots.gradBias) k.biasBackward(gradOut, count, layer.units, slots.gradBias);
        k.denseBackwardWeights(this.activations.get(layer.input)!.base, count, n, gradOut, layer.units, slots.gradWeights);
        if (gradIn) k.denseBackwardInput(gradOut, count, layer.units, gradIn, n, slots.packedT, this.zeroBias);
        break;
      }
      case 'activation': {
        if (!gradIn) return;
        this.engine.arena.u8.copyWithin(gradIn, gradOut, gradOut + oh * ow * oc * 4);
        if (layer.activation.kind === 'relu') k.reluBackward(gradIn, at(this.activations.get(layer.output)!, image), oh * ow * oc);
        break;
      }
    }
    if (gradIn && this.shared.has(layer.input)) this.addShared(layer.input, Math.max(image, 0), gradIn, (layer.op === 'dense' ? count : 1) * h * w * c);
  }
}
