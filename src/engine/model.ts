/**
 * A model loaded into the engine: weights packed for the kernels, activation buffers planned,
 * and the graph compiled into a list of kernel calls.
 *
 * Execution order: the layers before the first dense layer (the convolutional trunk) run image
 * by image, so their activations stay small and cache-resident and buffers are reused as soon
 * as a tensor is dead; from the first dense layer on, layers run over the whole batch at once,
 * so each dense weight panel is loaded once per four images.
 */
import { DisposedError, InputError } from '../errors.js';
import type { Engine } from './engine.js';
import type { Activation, GraphSpec, Layer, Preprocess } from './graph.js';
import type { DecodedModel, Tensor } from './model-format.js';
import { packPanels, panelsLength } from './packing.js';
import { elements, inferShapes, type Shape } from './plan.js';

export interface LoadOptions {
  /** Batch size to lay activation buffers out for; larger batches re-plan on demand. Default 1. */
  batch?: number;
}

const ACT_CODE = { none: 0, relu: 1, leaky: 2, prelu: 3 } as const;

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

export class Model {
  readonly graph: GraphSpec;
  readonly inputShape: Shape;
  readonly outputShapes: Shape[];
  private readonly shapes: Map<string, Shape>;
  private readonly firstBatched: number;
  private readonly batchedTensors = new Set<string>();
  private weightBlock = { ptr: 0, bytes: 0 };
  private activationBlock = { ptr: 0, bytes: 0 };
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
    for (let i = 0; i < input.length; i++) {
      if (!Number.isFinite(input[i])) throw new InputError(`input contains NaN or Infinity at index ${i}`);
    }
    if (batch > this.plannedBatch) this.plan(batch);
    const arena = this.engine.arena;
    arena.f32.set(input, this.tensorPtr.get(this.graph.input.name)!.base >> 2);
    for (let image = 0; image < batch; image++) for (const step of this.perImageSteps) step(image, batch);
    for (const step of this.batchedSteps) step(0, batch);
    const f32 = arena.f32;
    return this.graph.outputs.map((name, i) => {
      const start = this.tensorPtr.get(name)!.base >> 2;
      return f32.slice(start, start + batch * elements(this.outputShapes[i]));
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

  /** Converts every weight tensor into the layout its kernel reads and copies them in once. */
  private packWeights(tensors: Map<string, Tensor>): void {
    const blobs: [string, Float32Array][] = [];
    const get = (name: string | undefined) => (name === undefined ? undefined : tensors.get(name)!.data);
    const addActivation = (key: string, act: Activation, channels: number, offset = 0) => {
      if (act.kind === 'prelu') blobs.push([`${key}:slope`, padded(get(act.slope), channels, channels, offset)]);
    };
    this.graph.layers.forEach((layer, index) => {
      const key = String(index);
      if (layer.op === 'conv') {
        const cin = this.shapes.get(layer.input)![2];
        const [kh, kw] = layer.kernel;
        const w = get(layer.weights)!;
        if (layer.groups > 1 && layer.groups === cin) {
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
    const total = blobs.reduce((sum, [, b]) => sum + b.length, 0);
    const ptr = this.engine.arena.alloc(total * 4);
    this.weightBlock = { ptr, bytes: total * 4 };
    const f32 = this.engine.arena.f32;
    let at = ptr;
    for (const [name, blob] of blobs) {
      f32.set(blob, at >> 2);
      this.weightOffsets.set(name, at);
      at += blob.length * 4;
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
    const bytesOf = (name: string) => elements(this.shapes.get(name)!) * 4;
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
        scratchBytes = Math.max(scratchBytes, (h + layer.pad[0] + layer.pad[2]) * (w + layer.pad[1] + layer.pad[3]) * c * 4);
      }
      for (const name of layerInputs(layer)) {
        if (lastUse.get(name) === i && offsets.has(name)) free.push({ offset: offsets.get(name)!, size: ceilTo(bytesOf(name), 16) });
      }
    }
    let total = perImageBytes + ceilTo(scratchBytes, 16);
    const batchedOffsets = new Map<string, number>();
    for (const name of this.batchedTensors) {
      batchedOffsets.set(name, total);
      total += ceilTo(bytesOf(name) * batch, 16);
    }

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

  private compile(layer: Layer, key: string, scratch: number): Step {
    const k = this.engine.kernels;
    const ptr = (name: string) => {
      const { base, stride } = this.tensorPtr.get(name)!;
      return (image: number) => base + image * stride;
    };
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
        if (layer.groups > 1 && layer.groups === c) {
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
}

function layerInputs(layer: Layer): string[] {
  return layer.op === 'add' ? [...layer.inputs] : [layer.input];
}
