/**
 * A model loaded into the engine: weights packed for the kernels, activation buffers planned,
 * and the graph compiled into a list of kernel calls.
 *
 * Execution order: the layers before the first dense layer (the convolutional trunk) run image
 * by image, so their activations stay small and cache-resident and buffers are reused as soon
 * as a tensor is dead; from the first dense layer on, layers run over the whole batch at once,
 * so each dense weight panel is loaded once per four images.
 *
 * A quantised file (graph.quantization) runs on the integer kernels by default: every tensor is
 * held as i16 lanes of 8-bit codes, the input is quantised on the way in, graph outputs come
 * back as f32 (see quantization.ts for the number formats).
 */
import { DisposedError, InputError, ModelFormatError } from '../errors.js';
import type { Engine } from './engine.js';
import type { Activation, GraphSpec, Layer, Preprocess } from './graph.js';
import type { DecodedModel, Tensor } from './model-format.js';
import { packInt4Panels, packInt8Panels, packPanels, panelsLength } from './packing.js';
import { elements, inferShapes, isDepthwise, type Shape } from './plan.js';
import { codeRanges, floatOutputs, integerUnsupported, type CodeRange } from './quantization.js';

/** f32: the float kernels; int8: the integer kernels (quantised files only). */
export type Precision = 'f32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['f32', 'int8'];

export interface LoadOptions {
  /** Batch size to lay activation buffers out for; larger batches re-plan on demand. Default 1. */
  batch?: number;
  /**
   * Default: int8 for a quantised file, f32 otherwise. f32 on a quantised file runs what its
   * int8 weights stand for on the float kernels (float activations).
   */
  precision?: Precision;
}

/** An integer tensor's scale and code range. */
interface Codes extends CodeRange {
  scale: number;
}

const ACT_CODE = { none: 0, relu: 1, leaky: 2, prelu: 3 } as const;
/**
 * Integer conv layers with at least this many output pixels hold their weight panels as i16
 * (conv2dInt8Wide): each weight meets that many pixels, so skipping its widening in the inner loop
 * pays for few bytes (the student's conv1 and conv2, 40 KB); the student's later convs, with many
 * weights and few pixels, stay int8 (its arena stays under 1.5 MB).
 */
const WIDE_PANEL_PIXELS = 256;

interface ActivationArgs {
  code: number;
  alpha: number;
  slope: number;
}

type Step = (image: number, batch: number) => void;

const ceilTo = (n: number, m: number) => Math.ceil(n / m) * m;

/** HWIO conv weights (or [in][out] dense weights, kh = kw = 1) into panels of 8 outputs. */
function panels(w: Float32Array, k: number, cout: number, offset = 0, count = cout): Float32Array {
  const packed = new Float32Array(panelsLength(k, count));
  packPanels(w, k, cout, packed, 0, offset, count);
  return packed;
}

function padded(values: Float32Array | undefined, length: number, size: number, offset = 0): Float32Array {
  const out = new Float32Array(ceilTo(Math.max(size, 1), 8));
  if (values) out.set(values.subarray(offset, offset + length));
  return out;
}

type Blob = Float32Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export class Model {
  readonly graph: GraphSpec;
  readonly inputShape: Shape;
  readonly outputShapes: Shape[];
  readonly precision: Precision;
  private readonly shapes: Map<string, Shape>;
  /** int8 only: every tensor's codes, and the outputs their layer writes as f32. */
  private readonly codes = new Map<string, Codes>();
  private readonly floatOutputs = new Set<string>();
  /** int8 only: dense weights stored with 4-bit codes (denseInt4). */
  private readonly nibbleWeights = new Set<string>();
  /** int8 only: conv weights whose panels are held as i16 (conv2dInt8Wide). */
  private readonly wideWeights = new Set<string>();
  private readonly firstBatched: number;
  private readonly batchedTensors = new Set<string>();
  private weightBlock = { ptr: 0, bytes: 0 };
  private activationBlock = { ptr: 0, bytes: 0 };
  private activationParts = { perImage: 0, scratch: 0, batched: 0 };
  private plannedBatch = 0;
  private perImageSteps: Step[] = [];
  private batchedSteps: Step[] = [];
  private tensorPtr = new Map<string, { base: number; stride: number }>();
  private weightOffsets = new Map<string, number>();
  private disposed = false;

  constructor(
    private readonly engine: Engine,
    decoded: DecodedModel,
    options: LoadOptions,
    private readonly onDispose: () => void,
  ) {
    this.graph = decoded.graph;
    this.shapes = inferShapes(decoded.graph, decoded.tensors);
    this.inputShape = this.shapes.get(this.graph.input.name)!;
    this.outputShapes = this.graph.outputs.map((name) => this.shapes.get(name)!);
    this.precision = this.resolvePrecision(decoded.tensors, options.precision);
    const layers = this.graph.layers;
    const firstDense = layers.findIndex((l) => l.op === 'dense');
    this.firstBatched = firstDense < 0 ? layers.length : firstDense;
    this.batchedTensors.add(this.graph.input.name);
    for (const name of this.graph.outputs) this.batchedTensors.add(name);
    for (let i = this.firstBatched; i < layers.length; i++) {
      this.batchedTensors.add(layers[i].output);
      for (const name of layerInputs(layers[i])) this.batchedTensors.add(name);
    }
    this.packWeights(decoded.tensors);
    this.plan(Math.max(1, Math.floor(options.batch ?? 1)));
  }

  /**
   * Bytes this model holds in the arena: packed weights (with biases, multipliers, slopes), the
   * per-image activation buffers of the trunk (reused by liveness), the padding scratch, and the
   * batch-wide tensors (input, dense layers, outputs) at the planned batch.
   */
  get arenaBytes(): { weights: number; perImageActivations: number; scratch: number; batchedActivations: number } {
    const { perImage, scratch, batched } = this.activationParts;
    return { weights: this.weightBlock.bytes, perImageActivations: perImage, scratch, batchedActivations: batched };
  }

  get preprocess(): Preprocess | undefined {
    return this.graph.preprocess;
  }

  /** Runs the graph and returns its first output (batch x output elements). */
  run(input: Float32Array, batch = 1): Float32Array {
    return this.runAll(input, batch)[0];
  }

  /** Runs the graph and returns every output named in graph.outputs, in order. */
  runAll(input: Float32Array, batch = 1): Float32Array[] {
    this.assertUsable();
    if (!Number.isInteger(batch) || batch < 1) throw new InputError(`batch must be a positive integer, got ${batch}`);
    if (!(input instanceof Float32Array)) throw new InputError('input must be a Float32Array');
    const perImage = elements(this.inputShape);
    if (input.length !== batch * perImage) {
      throw new InputError(
        `input has ${input.length} values; ${this.graph.name} expects batch ${batch} x [${this.inputShape}] (NHWC) = ${batch * perImage}`,
      );
    }
    const inputCodes = this.codes.get(this.graph.input.name);
    // the integer path checks the values as it quantises them (below)
    for (let i = 0; !inputCodes && i < input.length; i++) {
      if (!Number.isFinite(input[i])) throw new InputError(`input contains NaN or Infinity at index ${i}`);
    }
    if (batch > this.plannedBatch) this.plan(batch);
    const arena = this.engine.arena;
    const inputAt = this.tensorPtr.get(this.graph.input.name)!.base;
    arena.f32.set(input, inputAt >> 2);
    if (inputCodes) {
      const bad = this.engine.kernels.quantizeInput(inputAt, input.length, 1 / inputCodes.scale, inputCodes.lo, inputCodes.hi);
      if (bad >= 0) throw new InputError(`input contains NaN or Infinity at index ${bad}`);
    }
    for (let image = 0; image < batch; image++) for (const step of this.perImageSteps) step(image, batch);
    for (const step of this.batchedSteps) step(0, batch);
    return this.graph.outputs.map((name, i) => {
      const at = this.tensorPtr.get(name)!.base;
      const count = batch * elements(this.outputShapes[i]);
      const codes = this.floatOutputs.has(name) ? undefined : this.codes.get(name);
      if (!codes) return arena.f32.slice(at >> 2, (at >> 2) + count);
      return Float32Array.from(arena.i16.subarray(at >> 1, (at >> 1) + count), (code) => code * codes.scale);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.arena.release(this.weightBlock.ptr, this.weightBlock.bytes);
    this.engine.arena.release(this.activationBlock.ptr, this.activationBlock.bytes);
    this.onDispose();
  }

  private assertUsable(): void {
    if (this.disposed) throw new DisposedError(`model "${this.graph.name}" has been disposed`);
    this.engine.assertUsable();
  }

  /** int8 for a quantised graph unless f32 is asked for; checks what the integer kernels need. */
  private resolvePrecision(tensors: Map<string, Tensor>, wanted: Precision | undefined): Precision {
    const spec = this.graph.quantization;
    if (wanted !== undefined && !PRECISIONS.includes(wanted)) {
      throw new InputError(`precision must be ${PRECISIONS.join(' or ')}, got ${JSON.stringify(wanted)}`);
    }
    const precision = wanted ?? (spec ? 'int8' : 'f32');
    if (precision === 'f32') return precision;
    const fail = (message: string): never => {
      throw new ModelFormatError(`model "${this.graph.name}" cannot run in int8: ${message}`);
    };
    if (!spec) throw new InputError(`model "${this.graph.name}" is not quantised (no graph.quantization); npm run quantize makes an int8 file`);
    const unsupported = integerUnsupported(this.graph, this.shapes);
    if (unsupported) fail(unsupported);
    for (const [name, range] of codeRanges(this.graph)) {
      const scale = spec.activations?.[name];
      if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) fail(`tensor "${name}" has no positive activation scale`);
      this.codes.set(name, { scale, ...range });
    }
    for (const layer of this.graph.layers) {
      if (layer.op === 'maxpool' && this.codes.get(layer.output)!.scale !== this.codes.get(layer.input)!.scale) {
        fail(`max pool "${layer.output}" must keep its input's scale`);
      }
      if ((layer.op === 'conv' || layer.op === 'dense') && !tensors.get(layer.weights)!.quantized) fail(`weights "${layer.weights}" are not stored as i8`);
      if (layer.op === 'conv' && tensors.get(layer.weights)!.quantized!.bits === 4) fail(`weights "${layer.weights}": 4-bit weights run in dense layers only`);
    }
    for (const name of floatOutputs(this.graph)) this.floatOutputs.add(name);
    return precision;
  }

  /** Converts every weight tensor into the layout its kernel reads and copies them in once. */
  private packWeights(tensors: Map<string, Tensor>): void {
    const blobs: [string, Blob][] = [];
    const get = (name: string | undefined) => (name === undefined ? undefined : tensors.get(name)!.data);
    const addActivation = (key: string, act: Activation, channels: number, offset = 0) => {
      if (act.kind === 'prelu') blobs.push([`${key}:slope`, padded(get(act.slope), channels, channels, offset)]);
    };
    this.graph.layers.forEach((layer, index) => {
      const key = String(index);
      if (this.precision === 'int8' && (layer.op === 'conv' || layer.op === 'dense')) {
        // codes in panels; bias in accumulator units (input scale x weight scale); multiplier
        // from accumulator units to output codes (or to values, for an f32 output)
        const { bits, codes, scales } = tensors.get(layer.weights)!.quantized!;
        const inScale = this.codes.get(layer.input)!.scale;
        const outScale = this.floatOutputs.has(layer.output) ? 1 : this.codes.get(layer.output)!.scale;
        const [h, w, c] = this.shapes.get(layer.input)!;
        const cout = layer.op === 'conv' ? layer.cout : layer.units;
        const [rows, rowLength] = layer.op === 'conv' ? [layer.kernel[0], layer.kernel[1] * c] : [1, h * w * c];
        const bias = get(layer.bias);
        const lanes = ceilTo(cout, 8);
        if (bits === 4) this.nibbleWeights.add(layer.weights);
        const [oh, ow] = this.shapes.get(layer.output)!;
        if (layer.op === 'conv' && isDepthwise(layer, c)) {
          // [kh][kw][c] as i16 codes, c padded to 8 with zeros (assembly/quantized.ts depthwiseConv2dInt8)
          const taps = layer.kernel[0] * layer.kernel[1];
          const packed = new Int16Array(taps * lanes);
          for (let t = 0; t < taps; t++) packed.set(codes.subarray(t * c, (t + 1) * c), t * lanes);
          blobs.push([`${key}:w0`, packed]);
        } else {
          if (layer.op === 'conv' && oh * ow >= WIDE_PANEL_PIXELS) this.wideWeights.add(layer.weights);
          const panels = bits === 4 ? packInt4Panels(codes, rowLength, cout) : packInt8Panels(codes, rows, rowLength, cout);
          blobs.push([`${key}:w0`, this.wideWeights.has(layer.weights) ? Int16Array.from(panels) : panels]);
        }
        blobs.push([`${key}:b0`, Int32Array.from({ length: lanes }, (_, o) => (o < cout && bias ? Math.round(bias[o] / (inScale * scales[o])) : 0))]);
        blobs.push([`${key}:m0`, Float32Array.from({ length: lanes }, (_, o) => (o < cout ? (inScale * scales[o]) / outScale : 0))]);
        addActivation(`${key}:0`, layer.activation, cout);
      } else if (layer.op === 'conv') {
        const cin = this.shapes.get(layer.input)![2];
        const [kh, kw] = layer.kernel;
        const w = get(layer.weights)!;
        if (isDepthwise(layer, cin)) {
          // depthwise: [kh][kw][1][c] with c padded to 4 so every vector load stays in bounds
          const cPad = ceilTo(cin, 4);
          const packed = new Float32Array(kh * kw * cPad);
          for (let i = 0; i < kh * kw; i++) packed.set(w.subarray(i * cin, (i + 1) * cin), i * cPad);
          blobs.push([`${key}:w`, packed], [`${key}:b`, padded(get(layer.bias), cin, cin)]);
          addActivation(key, layer.activation, cin);
        } else {
          const coutGroup = layer.cout / layer.groups;
          const k = kh * kw * (cin / layer.groups);
          for (let g = 0; g < layer.groups; g++) {
            blobs.push([`${key}:w${g}`, panels(w, k, layer.cout, g * coutGroup, coutGroup)]);
            blobs.push([`${key}:b${g}`, padded(get(layer.bias), coutGroup, coutGroup, g * coutGroup)]);
            addActivation(`${key}:${g}`, layer.activation, coutGroup, g * coutGroup);
          }
        }
      } else if (layer.op === 'dense') {
        const n = elements(this.shapes.get(layer.input)!);
        blobs.push([`${key}:w0`, panels(get(layer.weights)!, n, layer.units)]);
        blobs.push([`${key}:b0`, padded(get(layer.bias), layer.units, layer.units)]);
        addActivation(`${key}:0`, layer.activation, layer.units);
      } else if (layer.op === 'affine') {
        const c = this.shapes.get(layer.input)![2];
        blobs.push([`${key}:scale`, padded(get(layer.scale), c, c)], [`${key}:shift`, padded(get(layer.shift), c, c)]);
        addActivation(key, layer.activation, c);
      } else if (layer.op === 'add' || layer.op === 'activation') {
        addActivation(key, layer.activation, this.shapes.get(layer.output)![2]);
      }
    });
    const total = blobs.reduce((sum, [, b]) => sum + ceilTo(b.byteLength, 16), 0);
    const ptr = this.engine.arena.alloc(total);
    this.weightBlock = { ptr, bytes: total };
    const u8 = this.engine.arena.u8;
    let at = ptr;
    for (const [name, blob] of blobs) {
      u8.set(new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength), at);
      this.weightOffsets.set(name, at);
      at += ceilTo(blob.byteLength, 16);
    }
  }

  private weight(name: string): number {
    return this.weightOffsets.get(name) ?? 0;
  }

  private activationArgs(key: string, act: Activation): ActivationArgs {
    return { code: ACT_CODE[act.kind], alpha: act.kind === 'leaky' ? act.alpha : 0, slope: this.weight(`${key}:slope`) };
  }

  /** Lays out activation buffers for `batch` images and compiles the kernel calls. */
  private plan(batch: number): void {
    const layers = this.graph.layers;
    // integer tensors are i16 lanes of codes
    const elementBytes = (name: string) => (this.codes.has(name) && !this.floatOutputs.has(name) ? 2 : 4);
    const bytesOf = (name: string) => elements(this.shapes.get(name)!) * elementBytes(name);
    // last layer index reading each per-image tensor, so its buffer can be reused afterwards
    const lastUse = new Map<string, number>();
    layers.forEach((layer, i) => layerInputs(layer).forEach((name) => lastUse.set(name, i)));

    const offsets = new Map<string, number>();
    const free: { offset: number; size: number }[] = [];
    let perImageBytes = 0;
    const take = (size: number) => {
      let best = -1;
      for (let i = 0; i < free.length; i++) if (free[i].size >= size && (best < 0 || free[i].size < free[best].size)) best = i;
      if (best >= 0) return free.splice(best, 1)[0].offset;
      const offset = perImageBytes;
      perImageBytes += ceilTo(size, 16);
      return offset;
    };
    let scratchBytes = 0;
    for (let i = 0; i < this.firstBatched; i++) {
      const layer = layers[i];
      if (!this.batchedTensors.has(layer.output)) offsets.set(layer.output, take(ceilTo(bytesOf(layer.output), 16)));
      if (layer.op === 'conv' && layer.pad.some((p) => p > 0)) {
        const [h, w, c] = this.shapes.get(layer.input)!;
        scratchBytes = Math.max(scratchBytes, (h + layer.pad[0] + layer.pad[2]) * (w + layer.pad[1] + layer.pad[3]) * c * elementBytes(layer.input));
      }
      for (const name of layerInputs(layer)) {
        if (lastUse.get(name) === i && offsets.has(name)) free.push({ offset: offsets.get(name)!, size: ceilTo(bytesOf(name), 16) });
      }
    }
    let total = perImageBytes + ceilTo(scratchBytes, 16);
    const batchedOffsets = new Map<string, number>();
    for (const name of this.batchedTensors) {
      batchedOffsets.set(name, total);
      // an integer graph's input arrives as f32 and is quantised in place (quantizeInput)
      const arrivesAsFloat = name === this.graph.input.name && elementBytes(name) === 2;
      total += ceilTo(bytesOf(name) * batch * (arrivesAsFloat ? 2 : 1), 16);
    }
    // the integer kernels may read one code past an odd-length kernel row (it meets a zero weight)
    total += 16;
    this.activationParts = { perImage: perImageBytes, scratch: ceilTo(scratchBytes, 16), batched: total - perImageBytes - ceilTo(scratchBytes, 16) };

    const arena = this.engine.arena;
    if (this.activationBlock.bytes) arena.release(this.activationBlock.ptr, this.activationBlock.bytes);
    const base = arena.alloc(total);
    this.activationBlock = { ptr: base, bytes: total };
    this.plannedBatch = batch;
    this.tensorPtr = new Map();
    for (const [name, offset] of offsets) this.tensorPtr.set(name, { base: base + offset, stride: 0 });
    for (const [name, offset] of batchedOffsets) this.tensorPtr.set(name, { base: base + offset, stride: bytesOf(name) });
    const scratch = base + perImageBytes;
    const steps = layers.map((layer, i) => this.compile(layer, String(i), scratch));
    this.perImageSteps = steps.slice(0, this.firstBatched);
    this.batchedSteps = steps.slice(this.firstBatched).map((step, i) =>
      layers[this.firstBatched + i].op === 'dense' ? step : (_: number, n: number) => { for (let b = 0; b < n; b++) step(b, n); },
    );
  }

  private pointer(name: string): (image: number) => number {
    const { base, stride } = this.tensorPtr.get(name)!;
    return (image: number) => base + image * stride;
  }

  private compile(layer: Layer, key: string, scratch: number): Step {
    if (this.precision === 'int8') return this.compileInteger(layer, key, scratch);
    const k = this.engine.kernels;
    const ptr = (name: string) => this.pointer(name);
    const out = ptr(layer.output);
    const [oh, ow, oc] = this.shapes.get(layer.output)!;
    switch (layer.op) {
      case 'conv': {
        const src = ptr(layer.input);
        const [h, w, c] = this.shapes.get(layer.input)!;
        const [kh, kw] = layer.kernel;
        const [sh, sw] = layer.stride;
        const [pt, pl, pb, pr] = layer.pad;
        const isPadded = pt + pl + pb + pr > 0;
        const inW = w + pl + pr;
        const source = isPadded
          ? (image: number) => {
              k.pad(src(image), h, w, c, scratch, h + pt + pb, inW, c, pt, pl);
              return scratch;
            }
          : src;
        if (isDepthwise(layer, c)) {
          const a = this.activationArgs(key, layer.activation);
          const wp = this.weight(`${key}:w`);
          const bp = this.weight(`${key}:b`);
          return (image) => k.depthwiseConv2d(source(image), inW, c, out(image), oh, ow, wp, bp, kh, kw, sh, sw, a.code, a.alpha, a.slope);
        }
        const groups = layer.groups;
        const cinG = c / groups;
        const coutG = layer.cout / groups;
        const calls = Array.from({ length: groups }, (_, g) => ({
          w: this.weight(`${key}:w${g}`),
          b: this.weight(`${key}:b${g}`),
          a: this.activationArgs(`${key}:${g}`, layer.activation),
        }));
        return (image) => {
          const input = source(image);
          const output = out(image);
          calls.forEach(({ w: wp, b: bp, a }, g) =>
            k.conv2d(input + g * cinG * 4, inW, c, cinG, output + g * coutG * 4, oh, ow, oc, coutG, wp, bp, kh, kw, sh, sw, a.code, a.alpha, a.slope),
          );
        };
      }
      case 'maxpool':
      case 'avgpool': {
        const src = ptr(layer.input);
        const [h, w, c] = this.shapes.get(layer.input)!;
        const kernel = layer.op === 'maxpool' ? k.maxPool : k.avgPool;
        const [kh, kw] = layer.kernel;
        const [sh, sw] = layer.stride;
        return (image) => kernel(src(image), h, w, c, out(image), oh, ow, kh, kw, sh, sw, layer.pad[0], layer.pad[1]);
      }
      case 'globalavgpool': {
        const src = ptr(layer.input);
        const [h, w, c] = this.shapes.get(layer.input)!;
        return (image) => k.globalAvgPool(src(image), h * w, c, out(image));
      }
      case 'dense': {
        const src = ptr(layer.input);
        const n = elements(this.shapes.get(layer.input)!);
        const a = this.activationArgs(`${key}:0`, layer.activation);
        const wp = this.weight(`${key}:w0`);
        const bp = this.weight(`${key}:b0`);
        return (_image, batch) => k.dense(src(0), batch, n, out(0), layer.units, wp, bp, a.code, a.alpha, a.slope);
      }
      case 'affine': {
        const src = ptr(layer.input);
        const a = this.activationArgs(key, layer.activation);
        const scale = this.weight(`${key}:scale`);
        const shift = this.weight(`${key}:shift`);
        return (image) => k.affine(src(image), out(image), oh * ow, oc, scale, shift, a.code, a.alpha, a.slope);
      }
      case 'add': {
        const first = ptr(layer.inputs[0]);
        const second = ptr(layer.inputs[1]);
        const [bh, bw, bc] = this.shapes.get(layer.inputs[1])!;
        const a = this.activationArgs(key, layer.activation);
        return (image) => k.add(first(image), oh, ow, oc, second(image), bh, bw, bc, out(image), a.code, a.alpha, a.slope);
      }
      case 'pad': {
        const src = ptr(layer.input);
        const [h, w, c] = this.shapes.get(layer.input)!;
        return (image) => k.pad(src(image), h, w, c, out(image), oh, ow, oc, layer.pad[0], layer.pad[1]);
      }
      case 'activation': {
        const src = ptr(layer.input);
        const a = this.activationArgs(key, layer.activation);
        const bytes = oh * ow * oc * 4;
        return (image) => {
          const from = src(image);
          this.engine.arena.u8.copyWithin(out(image), from, from + bytes);
          k.activation(out(image), oh * ow, oc, a.code, a.alpha, a.slope);
        };
      }
    }
  }

  /** The integer kernels' calls (conv, maxpool, dense, add: the ops integerUnsupported lets through). */
  private compileInteger(layer: Layer, key: string, scratch: number): Step {
    const k = this.engine.kernels;
    const src = this.pointer(layerInputs(layer)[0]);
    const out = this.pointer(layer.output);
    const [h, w, c] = this.shapes.get(layerInputs(layer)[0])!;
    const [oh, ow] = this.shapes.get(layer.output)!;
    const floatOut = this.floatOutputs.has(layer.output);
    const { lo, hi } = floatOut ? { lo: 0, hi: 0 } : this.codes.get(layer.output)!;
    const wp = this.weight(`${key}:w0`);
    const bp = this.weight(`${key}:b0`);
    const mp = this.weight(`${key}:m0`);
    if (layer.op === 'conv') {
      const [kh, kw] = layer.kernel;
      const [sh, sw] = layer.stride;
      const [pt, pl, pb, pr] = layer.pad;
      const inW = w + pl + pr;
      const source = pt + pl + pb + pr > 0
        ? (image: number) => {
            k.padInt16(src(image), h, w, c, scratch, h + pt + pb, inW, c, pt, pl);
            return scratch;
          }
        : src;
      const a = this.activationArgs(`${key}:0`, layer.activation);
      if (isDepthwise(layer, c)) {
        return (image) =>
          k.depthwiseConv2dInt8(source(image), inW, c, out(image), oh, ow, wp, bp, mp, kh, kw, sh, sw, a.code, a.alpha, a.slope, lo, hi, +floatOut);
      }
      const conv = this.wideWeights.has(layer.weights) ? k.conv2dInt8Wide : k.conv2dInt8;
      return (image) =>
        conv(source(image), inW, c, out(image), oh, ow, layer.cout, wp, bp, mp, kh, kw, sh, sw, a.code, a.alpha, a.slope, lo, hi, +floatOut);
    }
    if (layer.op === 'add') {
      // each input's codes scaled to the output's (f32, as the kernel multiplies)
      const [ma, mb] = layer.inputs.map((name) => Math.fround(this.codes.get(name)!.scale / this.codes.get(layer.output)!.scale));
      const second = this.pointer(layer.inputs[1]);
      const a = this.activationArgs(key, layer.activation);
      const count = oh * ow * this.shapes.get(layer.output)![2];
      return (image) => k.addInt16(src(image), second(image), out(image), count, ma, mb, a.code, a.alpha, lo, hi);
    }
    if (layer.op === 'maxpool') {
      const [kh, kw] = layer.kernel;
      const [sh, sw] = layer.stride;
      return (image) => k.maxPoolInt16(src(image), h, w, c, out(image), oh, ow, kh, kw, sh, sw, layer.pad[0], layer.pad[1]);
    }
    if (layer.op !== 'dense') throw new ModelFormatError(`layer "${layer.output}" (${layer.op}) has no integer kernel`);
    const a = this.activationArgs(`${key}:0`, layer.activation);
    const units = layer.units;
    const dense = this.nibbleWeights.has(layer.weights) ? k.denseInt4 : k.denseInt8;
    return (_image, batch) => dense(src(0), batch, h * w * c, out(0), units, wp, bp, mp, a.code, a.alpha, a.slope, lo, hi, +floatOut);
  }
}


function layerInputs(layer: Layer): string[] {
  return layer.op === 'add' ? [...layer.inputs] : [layer.input];
}
