/**
 * The engine: one instantiated wasm module, one arena over its memory, any number of models.
 *
 *   const engine = await Engine.create();        // or Engine.create(moduleOrBytes)
 *   const model = engine.loadModel(bytes);
 *   const out = model.run(input, batch);
 */
import { DisposedError, EngineError } from '../errors.js';
import { Arena } from './arena.js';
import { loadDefaultWasm } from './assets.js';
import { decodeModel, type DecodedModel } from './model-format.js';
import { Model, type LoadOptions } from './model.js';

/** The integer conv kernels (assembly/quantized.ts): i16 code tensors in and out (f32 with floatOut 1). */
type IntegerConv = (
  input: number, inWidth: number, cin: number,
  output: number, outHeight: number, outWidth: number, cout: number,
  packed: number, bias: number, multiplier: number, kh: number, kw: number, sh: number, sw: number,
  act: number, alpha: number, slope: number, lo: number, hi: number, floatOut: number,
) => void;

/** The integer dense kernels (assembly/quantized.ts). */
type IntegerDense = (
  input: number, batch: number, inputs: number, output: number, units: number,
  packed: number, bias: number, multiplier: number, act: number, alpha: number, slope: number, lo: number, hi: number, floatOut: number,
) => void;

/** The kernels exported by assembly/index.ts (raw bindings: plain numbers, byte pointers). */
export interface Kernels {
  memory: WasmMemory;
  heapBase(): number;
  activation(x: number, pixels: number, channels: number, act: number, alpha: number, slope: number): void;
  affine(x: number, out: number, pixels: number, channels: number, scale: number, shift: number, act: number, alpha: number, slope: number): void;
  add(a: number, h: number, w: number, c: number, b: number, bh: number, bw: number, bc: number, out: number, act: number, alpha: number, slope: number): void;
  pad(x: number, h: number, w: number, c: number, out: number, oh: number, ow: number, oc: number, top: number, left: number): void;
  conv2d(
    input: number, inWidth: number, inStride: number, cin: number,
    output: number, outHeight: number, outWidth: number, outStride: number, cout: number,
    packed: number, bias: number, kh: number, kw: number, sh: number, sw: number,
    act: number, alpha: number, slope: number,
  ): void;
  depthwiseConv2d(
    input: number, inWidth: number, channels: number,
    output: number, outHeight: number, outWidth: number,
    weights: number, bias: number, kh: number, kw: number, sh: number, sw: number,
    act: number, alpha: number, slope: number,
  ): void;
  maxPool(input: number, inHeight: number, inWidth: number, channels: number, output: number, outHeight: number, outWidth: number, kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number): void;
  avgPool(input: number, inHeight: number, inWidth: number, channels: number, output: number, outHeight: number, outWidth: number, kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number): void;
  globalAvgPool(input: number, pixels: number, channels: number, output: number): void;
  dense(input: number, batch: number, inputs: number, output: number, units: number, packed: number, bias: number, act: number, alpha: number, slope: number): void;
  // integer kernels (assembly/quantized.ts): i16 code tensors, int8 weight panels, floatOut 0/1
  conv2dInt8: IntegerConv;
  /** conv2dInt8 on weight panels held as i16. */
  conv2dInt8Wide: IntegerConv;
  /** Residual add on codes of equal-shaped tensors: clamp(round(act(a * ma + b * mb))). */
  addInt16(a: number, b: number, out: number, count: number, ma: number, mb: number, act: number, alpha: number, lo: number, hi: number): void;
  /** Depthwise on i16 weight codes [kh][kw][c], c padded to 8. */
  depthwiseConv2dInt8(
    input: number, inWidth: number, channels: number,
    output: number, outHeight: number, outWidth: number,
    weights: number, bias: number, multiplier: number, kh: number, kw: number, sh: number, sw: number,
    act: number, alpha: number, slope: number, lo: number, hi: number, floatOut: number,
  ): void;
  /** f32 values to i16 codes in place; -1, or the index of the first non-finite value. */
  quantizeInput(at: number, count: number, inverse: number, lo: number, hi: number): number;
  denseInt8: IntegerDense;
  /** denseInt8 with 4-bit weight panels (packInt4Panels). */
  denseInt4: IntegerDense;
  maxPoolInt16(input: number, inHeight: number, inWidth: number, channels: number, output: number, outHeight: number, outWidth: number, kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number): void;
  padInt16(x: number, h: number, w: number, c: number, out: number, oh: number, ow: number, oc: number, top: number, left: number): void;
}

/*
 * The public types name no WebAssembly or BufferSource: those come from the dom/webworker libs,
 * which a Node project compiling without them would miss inside this package's declarations.
 */

/** What the engine uses of the kernels' WebAssembly.Memory. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/**
 * A compiled WebAssembly.Module (any object: told apart from bytes at run time), or the raw bytes
 * of mobileid.wasm; omitted, the runtime's default location.
 */
export type WasmSource = ArrayBuffer | ArrayBufferView | object;

export class Engine {
  private readonly models = new Set<Model>();
  private disposed = false;

  private constructor(
    readonly kernels: Kernels,
    readonly arena: Arena,
  ) {}

  static async create(source?: WasmSource): Promise<Engine> {
    // toString tag, not instanceof: a Module compiled in another realm (bundler sandboxes) is still one
    const isModule = Object.prototype.toString.call(source) === '[object WebAssembly.Module]';
    const module = isModule ? (source as WebAssembly.Module) : await compile(((source as BufferSource | undefined) ?? (await loadDefaultWasm())) as BufferSource);
    let instance: WebAssembly.Instance;
    try {
      instance = await WebAssembly.instantiate(module, { env: { abort: () => { throw new EngineError('wasm abort'); } } });
    } catch (cause) {
      throw new EngineError(`cannot instantiate the mobileid wasm module: ${(cause as Error).message}`);
    }
    const kernels = instance.exports as unknown as Kernels;
    return new Engine(kernels, new Arena(kernels.memory, kernels.heapBase()));
  }

  /** Loads a model file (bytes) or an already decoded model into this engine's memory. */
  loadModel(model: Uint8Array | DecodedModel, options: LoadOptions = {}): Model {
    this.assertUsable();
    const decoded = model instanceof Uint8Array ? decodeModel(model) : model;
    const loaded = new Model(this, decoded, options, () => this.models.delete(loaded));
    this.models.add(loaded);
    return loaded;
  }

  /** Bytes of wasm memory in use by loaded models (weights + activation buffers). */
  get memoryBytes(): number {
    return this.arena.usedBytes - this.kernels.heapBase();
  }

  /** Size of the wasm linear memory: what the engine holds from the host (it grows, never shrinks). */
  get wasmMemoryBytes(): number {
    return this.kernels.memory.buffer.byteLength;
  }

  assertUsable(): void {
    if (this.disposed) throw new DisposedError('this Engine has been disposed');
  }

  dispose(): void {
    for (const model of [...this.models]) model.dispose();
    this.disposed = true;
  }
}

async function compile(bytes: BufferSource): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(bytes);
  } catch (cause) {
    throw new EngineError(`mobileid wasm does not compile (is WebAssembly SIMD supported here?): ${(cause as Error).message}`);
  }
}
