/**
 * Converters from @vladmandic/face-api's shipped weights (a tfjs weights manifest plus the
 * concatenated .bin shards) to this package's layer graphs. Each converter rebuilds, layer by
 * layer, exactly what face-api's forward pass computes, with TF 'SAME' padding written out as
 * explicit pads, so the engine reproduces face-api's outputs to float rounding.
 *
 * Weights are passed through untouched (no folding), so every tensor that face-api stores as
 * 8-bit min/scale keeps its exact 256-level grid and can be stored as q8 again without loss.
 * Pure functions: no file system access.
 */
import type { Activation, GraphSpec, Layer, Padding, Preprocess } from '../engine/graph.js';
import { encodeModel, type StorageDtype, type Tensor } from '../engine/model-format.js';
import { samePadding } from '../engine/plan.js';
import { MobileIdError } from '../errors.js';

/** face-api weights that cannot be read or converted (bad manifest, wrong byte count, bad option). */
export class FaceApiConversionError extends MobileIdError {
  override name = 'FaceApiConversionError';
}

export interface FaceApiWeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min: number; scale: number };
}

/** A tfjs weights manifest: groups of weights, each group's bytes stored in `paths` in order. */
export type FaceApiManifest = Array<{ paths: string[]; weights: FaceApiWeightEntry[] }>;

/** A weight as face-api expands it, plus how face-api stored it. */
export interface SourceTensor extends Tensor {
  storage: StorageDtype;
}

/** A converted network: what `encodeModel` needs, and each tensor's storage dtype. */
export interface ConvertedNet {
  graph: GraphSpec;
  tensors: Map<string, Tensor>;
  storage: Map<string, StorageDtype>;
}

const FACE_API_VERSION = '1.7.15';

/** face-api normalises every face crop as (rgb - mean) / 255 (FaceRecognitionNet, FaceFeatureExtractor). */
const FACE_MEAN_RGB: [number, number, number] = [122.782, 117.001, 104.298];
/** TinyFaceDetector's own mean (tinyFaceDetector/const.ts). */
const DETECTOR_MEAN_RGB: [number, number, number] = [117.001, 114.697, 97.404];
const DIV_255: [number, number, number] = [1 / 255, 1 / 255, 1 / 255];

/** TinyFaceDetector anchors (width, height) in grid cells, from tinyFaceDetector/const.ts. */
const DETECTOR_ANCHORS: Array<[number, number]> = [
  [1.603231, 2.094468],
  [6.041143, 7.080126],
  [2.882459, 3.518061],
  [4.266906, 5.178857],
  [9.041765, 10.66308],
];

/** face-api's leaky ReLU slope: the float32 value of 0.1 (tinyYolov2/leaky.ts). */
const LEAKY: Activation = { kind: 'leaky', alpha: 0.10000000149011612 };
const RELU: Activation = { kind: 'relu' };
const NONE: Activation = { kind: 'none' };

/**
 * Expands face-api weights the way tfjs does (value = q * scale + min, rounded to float32).
 * `bin` is the concatenation of every group's shards in manifest order.
 */
export function readFaceApiWeights(manifest: FaceApiManifest, bin: Uint8Array): Map<string, SourceTensor> {
  if (!Array.isArray(manifest)) throw new FaceApiConversionError('weights manifest must be an array of weight groups');
  const weights = new Map<string, SourceTensor>();
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  let offset = 0;
  for (const entry of manifest.flatMap((group) => group?.weights ?? [])) {
    const { name, shape, dtype, quantization } = entry;
    if (typeof name !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new FaceApiConversionError(`manifest entry ${JSON.stringify(name)} has no valid name/shape`);
    }
    if (dtype !== 'float32') throw new FaceApiConversionError(`weight "${name}": unsupported dtype ${dtype}`);
    if (weights.has(name)) throw new FaceApiConversionError(`weight "${name}" appears twice in the manifest`);
    const count = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    let storage: StorageDtype;
    if (quantization) {
      const { min, scale } = quantization;
      if (quantization.dtype !== 'uint8' || !Number.isFinite(min) || !Number.isFinite(scale)) {
        throw new FaceApiConversionError(`weight "${name}": unsupported quantization ${JSON.stringify(quantization)}`);
      }
      if (offset + count > bin.length) throw new FaceApiConversionError(`weight "${name}" runs past the end of the weights file`);
      for (let i = 0; i < count; i++) data[i] = bin[offset + i] * scale + min;
      offset += count;
      storage = 'q8';
    } else {
      if (offset + count * 4 > bin.length) throw new FaceApiConversionError(`weight "${name}" runs past the end of the weights file`);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(offset + i * 4, true);
      offset += count * 4;
      storage = 'f32';
    }
    weights.set(name, { shape: [...shape], data, storage });
  }
  if (offset !== bin.length) {
    throw new FaceApiConversionError(`weights file has ${bin.length} bytes but the manifest describes ${offset}`);
  }
  return weights;
}

type Shape = [number, number, number];
type PadMode = 'same' | 'valid' | Padding;

/** Accumulates layers and the face-api weights they use, checking shapes as it goes. */
class GraphBuilder {
  readonly layers: Layer[] = [];
  readonly tensors = new Map<string, Tensor>();
  readonly storage = new Map<string, StorageDtype>();
  private readonly shapes = new Map<string, Shape>();
  private readonly used = new Set<string>();

  constructor(
    private readonly source: Map<string, SourceTensor>,
    readonly input: string,
    inputShape: Shape,
  ) {
    this.shapes.set(input, inputShape);
  }

  shape(name: string): Shape {
    const shape = this.shapes.get(name);
    if (!shape) throw new FaceApiConversionError(`internal: tensor "${name}" used before it is produced`);
    return shape;
  }

  /** Takes face-api weight `name`, checks its shape and stores it under `storedShape` (same element order). */
  weight(name: string, expected: number[], storedShape: number[] = expected): string {
    const tensor = this.source.get(name);
    if (!tensor) throw new FaceApiConversionError(`weight "${name}" is missing from the manifest`);
    if (tensor.shape.join() !== expected.join()) {
      throw new FaceApiConversionError(`weight "${name}" has shape [${tensor.shape}], expected [${expected}]`);
    }
    this.used.add(name);
    this.tensors.set(name, { shape: storedShape, data: tensor.data });
    this.storage.set(name, tensor.storage);
    return name;
  }

  private padding(mode: PadMode, [h, w]: Shape, [kh, kw]: [number, number], [sh, sw]: [number, number]): Padding {
    if (mode === 'valid') return [0, 0, 0, 0];
    if (mode !== 'same') return mode;
    const [top, bottom] = samePadding(h, kh, sh);
    const [left, right] = samePadding(w, kw, sw);
    return [top, left, bottom, right];
  }

  private produce(layer: Layer, shape: Shape): string {
    if (this.shapes.has(layer.output)) throw new FaceApiConversionError(`internal: tensor "${layer.output}" written twice`);
    if (shape.some((d) => !(d > 0))) throw new FaceApiConversionError(`layer "${layer.output}" would have empty shape [${shape}]`);
    this.layers.push(layer);
    this.shapes.set(layer.output, shape);
    return layer.output;
  }

  /** Regular conv from face-api filters [k, k, cin, cout] (already HWIO). */
  conv(input: string, output: string, filters: string, bias: string | undefined, k: number, stride: number, pad: PadMode, activation: Activation): string {
    const [h, w, cin] = this.shape(input);
    const cout = this.source.get(filters)?.shape[3] ?? 0;
    const weights = this.weight(filters, [k, k, cin, cout]);
    const padding = this.padding(pad, [h, w, cin], [k, k], [stride, stride]);
    return this.produce(
      {
        op: 'conv', input, output, weights, ...(bias ? { bias: this.weight(bias, [cout]) } : {}),
        cout, kernel: [k, k], stride: [stride, stride], pad: padding, groups: 1, activation,
      },
      outShape([h, w], [k, k], [stride, stride], padding, cout),
    );
  }

  /** Depthwise conv from face-api filters [k, k, c, 1], stored as [k, k, 1, c] (same element order). */
  depthwise(input: string, output: string, filters: string, k: number, stride: number, pad: PadMode): string {
    const [h, w, c] = this.shape(input);
    const weights = this.weight(filters, [k, k, c, 1], [k, k, 1, c]);
    const padding = this.padding(pad, [h, w, c], [k, k], [stride, stride]);
    return this.produce(
      { op: 'conv', input, output, weights, cout: c, kernel: [k, k], stride: [stride, stride], pad: padding, groups: c, activation: NONE },
      outShape([h, w], [k, k], [stride, stride], padding, c),
    );
  }

  /** tf.separableConv2d (+ bias): depthwise (strided) then 1x1 pointwise with bias and activation. */
  separable(input: string, output: string, prefix: string, stride: number, pad: PadMode, activation: Activation): string {
    const depthwise = this.depthwise(input, `${output}/depthwise`, `${prefix}/depthwise_filter`, 3, stride, pad);
    return this.conv(depthwise, output, `${prefix}/pointwise_filter`, `${prefix}/bias`, 1, 1, 'valid', activation);
  }

  affine(input: string, output: string, scale: string, shift: string, activation: Activation): string {
    const shape = this.shape(input);
    return this.produce(
      { op: 'affine', input, output, scale: this.weight(scale, [shape[2]]), shift: this.weight(shift, [shape[2]]), activation },
      shape,
    );
  }

  pool(op: 'maxpool' | 'avgpool', input: string, output: string, k: number, stride: number, pad: PadMode): string {
    const shape = this.shape(input);
    const padding = this.padding(pad, shape, [k, k], [stride, stride]);
    return this.produce(
      { op, input, output, kernel: [k, k], stride: [stride, stride], pad: padding },
      outShape([shape[0], shape[1]], [k, k], [stride, stride], padding, shape[2]),
    );
  }

  globalAvgPool(input: string, output: string): string {
    return this.produce({ op: 'globalavgpool', input, output }, [1, 1, this.shape(input)[2]]);
  }

  /** a + b where b may have fewer channels or rows/columns (zero-extended, see AddLayer). */
  add(a: string, b: string, output: string, activation: Activation): string {
    const [sa, sb] = [this.shape(a), this.shape(b)];
    if (sb[0] > sa[0] || sb[1] > sa[1] || sb[2] > sa[2]) {
      throw new FaceApiConversionError(`internal: add "${output}" of [${sa}] and larger [${sb}]`);
    }
    return this.produce({ op: 'add', inputs: [a, b], output, activation }, sa);
  }

  /**
   * Zero rows/columns at the bottom/right so `input` matches `rows` x `cols`. `channels` is the
   * output's channel count, as src/engine/plan.ts reads it (graph.ts's comment says "extra channels").
   */
  padBottomRight(input: string, output: string, rows: number, cols: number): string {
    const [h, w, c] = this.shape(input);
    return this.produce({ op: 'pad', input, output, pad: [0, 0, rows - h, cols - w], channels: c }, [rows, cols, c]);
  }

  activation(input: string, output: string, activation: Activation): string {
    return this.produce({ op: 'activation', input, output, activation }, this.shape(input));
  }

  dense(input: string, output: string, weights: string, bias: string | undefined, activation: Activation): string {
    const [h, w, c] = this.shape(input);
    const units = this.source.get(weights)?.shape[1] ?? 0;
    return this.produce(
      {
        op: 'dense', input, output, weights: this.weight(weights, [h * w * c, units]),
        ...(bias ? { bias: this.weight(bias, [units]) } : {}), units, activation,
      },
      [1, 1, units],
    );
  }

  finish(name: string, outputs: string[], preprocess: Preprocess, meta: Record<string, unknown>): ConvertedNet {
    const unused = [...this.source.keys()].filter((n) => !this.used.has(n));
    if (unused.length) throw new FaceApiConversionError(`${name}: manifest has weights this network does not use: ${unused.join(', ')}`);
    const graph: GraphSpec = {
      name,
      input: { name: this.input, shape: this.shape(this.input) },
      outputs,
      layers: this.layers,
      preprocess,
      meta: { ...meta, outputShapes: Object.fromEntries(outputs.map((o) => [o, this.shape(o)])) },
    };
    return { graph, tensors: this.tensors, storage: this.storage };
  }
}

function outShape([h, w]: [number, number], [kh, kw]: [number, number], [sh, sw]: [number, number], [t, l, b, r]: Padding, c: number): Shape {
  return [Math.floor((h + t + b - kh) / sh) + 1, Math.floor((w + l + r - kw) / sw) + 1, c];
}

const faceApiSource = (modelName: string) => ({
  package: `@vladmandic/face-api@${FACE_API_VERSION}`,
  files: [`model/${modelName}-weights_manifest.json`, `model/${modelName}.bin`],
});

/** Where a net that face-api.js trained itself comes from, and its licence (MIT weights and code). */
const faceApiOwnNet = (modelName: string, netName: string) => ({
  source: faceApiSource(modelName),
  origin: `face-api.js ${netName} (Vincent Mühler)`,
  licence: { weights: 'MIT (face-api.js repository)', code: 'MIT' },
});

/** conv -> + bias -> per-channel scale layer -> optional ReLU (faceRecognitionNet/convLayer.ts). */
function recognitionConv(g: GraphBuilder, input: string, prefix: string, k: number, stride: number, pad: PadMode, relu: boolean): string {
  const conv = g.conv(input, `${prefix}/conv`, `${prefix}/conv/filters`, `${prefix}/conv/bias`, k, stride, pad, NONE);
  return g.affine(conv, prefix, `${prefix}/scale/weights`, `${prefix}/scale/biases`, relu ? RELU : NONE);
}

/** relu(conv2(relu(conv1(x))) + x) (faceRecognitionNet/residualLayer.ts `residual`). */
function residual(g: GraphBuilder, input: string, prefix: string): string {
  const conv1 = recognitionConv(g, input, `${prefix}/conv1`, 3, 1, 'same', true);
  const conv2 = recognitionConv(g, conv1, `${prefix}/conv2`, 3, 1, 'same', false);
  return g.add(conv2, input, prefix, RELU);
}

/**
 * `residualDown`: conv1 stride 2 'valid'; shortcut = 2x2/2 average pool of the input with zero
 * channels appended; where the pooled map is one cell larger, face-api appends a zero row and
 * column to the residual branch instead.
 */
function residualDown(g: GraphBuilder, input: string, prefix: string): string {
  const conv1 = recognitionConv(g, input, `${prefix}/conv1`, 3, 2, 'valid', true);
  let conv2 = recognitionConv(g, conv1, `${prefix}/conv2`, 3, 1, 'same', false);
  const pooled = g.pool('avgpool', input, `${prefix}/shortcut`, 2, 2, 'valid');
  const [ph, pw] = g.shape(pooled);
  const [ch, cw] = g.shape(conv2);
  if (ph !== ch || pw !== cw) conv2 = g.padBottomRight(conv2, `${prefix}/conv2/padded`, ph, pw);
  return g.add(conv2, pooled, prefix, RELU);
}

/**
 * dlib's face recognition ResNet (faceRecognitionNet/FaceRecognitionNet.ts). Outputs the 256-d
 * global average pool (after ReLU, the hidden layer) and the 128-d descriptor.
 */
export function convertFaceRecognitionNet(manifest: FaceApiManifest, bin: Uint8Array): ConvertedNet {
  const g = new GraphBuilder(readFaceApiWeights(manifest, bin), 'input', [150, 150, 3]);
  let x = recognitionConv(g, g.input, 'conv32_down', 7, 2, 'valid', true);
  x = g.pool('maxpool', x, 'pool', 3, 2, 'valid');
  for (const block of ['conv32_1', 'conv32_2', 'conv32_3']) x = residual(g, x, block);
  x = residualDown(g, x, 'conv64_down');
  for (const block of ['conv64_1', 'conv64_2', 'conv64_3']) x = residual(g, x, block);
  x = residualDown(g, x, 'conv128_down');
  for (const block of ['conv128_1', 'conv128_2']) x = residual(g, x, block);
  x = residualDown(g, x, 'conv256_down');
  for (const block of ['conv256_1', 'conv256_2']) x = residual(g, x, block);
  x = residualDown(g, x, 'conv256_down_out');
  const hidden = g.globalAvgPool(x, 'hidden');
  const descriptor = g.dense(hidden, 'descriptor', 'fc', undefined, NONE);
  return g.finish(
    'dlib-resnet-face-recognition',
    [hidden, descriptor],
    { channelOrder: 'rgb', mean: FACE_MEAN_RGB, scale: DIV_255 },
    {
      source: faceApiSource('face_recognition_model'),
      origin: 'dlib dlib_face_recognition_resnet_model_v1 (Davis King), as converted by face-api.js',
      licence: { weights: 'public domain (dlib-models README)', converterOf: 'face-api code, MIT' },
      inputSize: 150,
      alignment: 'dlib face chip: similarity transform from 68-point landmarks to dlib mean face shape, size 150, padding 0.25',
      outputs: {
        hidden: '256-d global average pool of the last residual block (after ReLU, non-negative)',
        descriptor: '128-d face descriptor (fc 256x128, no bias), compare with Euclidean distance (~0.6)',
      },
    },
  );
}

/**
 * face-api's densely connected block of 4 convs (faceFeatureExtractor/denseBlock.ts): the first
 * conv halves the resolution, each later separable conv sees relu of the running sum.
 */
function denseBlock4(g: GraphBuilder, input: string, prefix: string, isFirst: boolean): string {
  const out1 = isFirst
    ? g.conv(input, `${prefix}/conv0`, `${prefix}/conv0/filters`, `${prefix}/conv0/bias`, 3, 2, 'same', RELU)
    : g.separable(input, `${prefix}/conv0`, `${prefix}/conv0`, 2, 'same', RELU);
  let sum = out1;
  for (let i = 1; i <= 3; i++) {
    const inI = i === 1 ? out1 : g.activation(sum, `${prefix}/in${i}`, RELU);
    const out = g.separable(inI, `${prefix}/conv${i}`, `${prefix}/conv${i}`, 1, 'same', NONE);
    sum = g.add(sum, out, i === 3 ? prefix : `${prefix}/sum${i}`, i === 3 ? RELU : NONE);
  }
  return sum;
}

/**
 * FaceLandmark68Net (faceLandmarkNet + faceFeatureExtractor/FaceFeatureExtractor.ts): 4 dense
 * blocks 112 -> 7, 7x7 average pool, fc 256 -> 136. Output: x0, y0, x1, y1, ... as fractions of
 * the 112x112 (square-padded) input.
 */
export function convertFaceLandmark68Net(manifest: FaceApiManifest, bin: Uint8Array): ConvertedNet {
  const g = new GraphBuilder(readFaceApiWeights(manifest, bin), 'input', [112, 112, 3]);
  let x = denseBlock4(g, g.input, 'dense0', true);
  for (const block of ['dense1', 'dense2', 'dense3']) x = denseBlock4(g, x, block, false);
  // face-api: avgPool 7x7 stride 2 'valid' on the 7x7 map, i.e. a global average.
  const pooled = g.globalAvgPool(x, 'pool');
  const landmarks = g.dense(pooled, 'landmarks', 'fc/weights', 'fc/bias', NONE);
  return g.finish(
    'face-landmark-68',
    [landmarks],
    { channelOrder: 'rgb', mean: FACE_MEAN_RGB, scale: DIV_255 },
    {
      ...faceApiOwnNet('face_landmark_68_model', 'FaceLandmark68Net'),
      inputSize: 112,
      input: 'face crop (detection box clipped to the image, then floored) zero-padded to a square, centred: the short side gets ' +
        'round(diff/2) zero pixels after and the rest before; then tf.image.resizeBilinear to 112x112 ' +
        '(alignCorners false, halfPixelCenters false); zero padding is in raw pixel values, before normalisation',
      landmarkOutput: {
        layout: 'interleaved x0, y0, ..., x67, y67 (iBUG 68-point order)',
        units: 'fractions of the 112x112 network input',
        toImage: 'landmarksToImage(): for the crop box (X, Y, W, H), side = max(W, H); x = X + out_x * side - (side - W) / 2; ' +
          'y = Y + out_y * side - (side - H) / 2 (face-api itself shifts by the unfloored box)',
      },
    },
  );
}

/**
 * TinyFaceDetector (tinyYolov2/TinyYolov2Base.ts runMobilenet, separable variant, no conv6/7):
 * 3x3 'valid' conv, then 2x2 max pools ('same') between separable convs (padded by 1, 'valid'),
 * the last pool stride 1, and a 1x1 conv to 5 anchors x (x, y, w, h, objectness). Batch norm is
 * already folded into these weights upstream. `inputSize` must be a multiple of 32 (face-api's
 * rule); TF 'SAME' padding depends on it, so one graph serves one input size.
 */
export function convertTinyFaceDetector(manifest: FaceApiManifest, bin: Uint8Array, inputSize = 416): ConvertedNet {
  if (!Number.isInteger(inputSize) || inputSize < 32 || inputSize % 32 !== 0) {
    throw new FaceApiConversionError(`TinyFaceDetector inputSize must be a positive multiple of 32, got ${inputSize}`);
  }
  const g = new GraphBuilder(readFaceApiWeights(manifest, bin), 'input', [inputSize, inputSize, 3]);
  let x = g.conv(g.input, 'conv0', 'conv0/filters', 'conv0/bias', 3, 1, 'valid', LEAKY);
  for (let i = 1; i <= 5; i++) {
    x = g.pool('maxpool', x, `pool${i - 1}`, 2, 2, 'same');
    x = g.separable(x, `conv${i}`, `conv${i}`, 1, [1, 1, 1, 1], LEAKY);
  }
  x = g.pool('maxpool', x, 'pool5', 2, 1, 'same');
  const grid = g.conv(x, 'grid', 'conv8/filters', 'conv8/bias', 1, 1, 'valid', NONE);
  const cells = g.shape(grid)[0];
  return g.finish(
    'tiny-face-detector',
    [grid],
    { channelOrder: 'rgb', mean: DETECTOR_MEAN_RGB, scale: DIV_255 },
    {
      ...faceApiOwnNet('tiny_face_detector_model', 'TinyFaceDetector'),
      inputSize,
      input: 'image zero-padded to a square at the bottom/right (not centred), then tf.image.resizeBilinear to ' +
        'inputSize (alignCorners false, halfPixelCenters false); zero padding is in raw pixel values',
      gridSize: cells,
      stride: inputSize / cells,
      classes: ['face'],
      anchors: DETECTOR_ANCHORS,
      boxEncoding: ['x', 'y', 'w', 'h', 'objectness'],
      outputLayout: '[row][col][anchor * 5 + k]',
      decode: 'score = sigmoid(objectness); cx = (col + sigmoid(x)) / gridSize; cy = (row + sigmoid(y)) / gridSize; ' +
        'w = exp(w) * anchorW / gridSize; h = exp(h) * anchorH / gridSize (fractions of the padded square; ' +
        'multiply by max(imgW, imgH) for pixels)',
      iouThreshold: 0.4,
      defaultScoreThreshold: 0.5,
    },
  );
}

/** Encodes a converted net, keeping face-api's storage: q8 where it shipped 8-bit weights, else f32. */
export function encodeConvertedNet(net: ConvertedNet): Uint8Array {
  return encodeModel(net.graph, net.tensors, { dtype: (name) => net.storage.get(name) ?? 'f32' });
}
