/**
 * The face-api converters, checked without this package's engine: weight decoding against
 * tfjs's own decoder, graph structure and shapes, the model-file round trip, and the converted
 * graphs' semantics, executed layer by layer with plain tfjs ops, against face-api's forward pass.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFaceApiModel } from '../scripts/convert-faceapi.js';
import type { Activation, GraphSpec, PoolLayer } from '../src/engine/graph.js';
import { decodeModel, type Tensor } from '../src/engine/model-format.js';
import { samePadding } from '../src/engine/plan.js';
import {
  convertFaceLandmark68Net,
  convertFaceRecognitionNet,
  convertTinyFaceDetector,
  encodeConvertedNet,
  FaceApiConversionError,
  readFaceApiWeights,
  type ConvertedNet,
} from '../src/tools/faceapi-convert.js';
import type { Tensor as TfTensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { faceApiInput, loadFaceApi, maxAbsDiff, preprocess, smoothImage, type FaceApi, type Tf } from './faceapi-reference.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const recognition = readFaceApiModel('face_recognition_model');
const landmarks = readFaceApiModel('face_landmark_68_model');
const detector = readFaceApiModel('tiny_face_detector_model');

const opCounts = (graph: GraphSpec) =>
  graph.layers.reduce<Record<string, number>>((acc, l) => ({ ...acc, [l.op]: (acc[l.op] ?? 0) + 1 }), {});

describe('samePadding (TF "SAME")', () => {
  it('splits the missing input with the smaller half first', () => {
    expect(samePadding(112, 3, 2)).toEqual([0, 1]); // 56 outputs need 113 inputs
    expect(samePadding(7, 3, 1)).toEqual([1, 1]);
    expect(samePadding(13, 2, 1)).toEqual([0, 1]); // the stride-1 max pool
    expect(samePadding(207, 2, 2)).toEqual([0, 1]);
    expect(samePadding(414, 2, 2)).toEqual([0, 0]);
    expect(samePadding(5, 4, 1)).toEqual([1, 2]);
    expect(samePadding(4, 1, 3)).toEqual([0, 0]); // never negative
  });
});

describe('readFaceApiWeights', () => {
  it('expands every weight exactly as tfjs does, and keeps the source storage', async () => {
    const { tf } = await loadFaceApi();
    for (const { manifest, bin } of [recognition, landmarks, detector]) {
      const specs = manifest.flatMap((g) => g.weights);
      const ours = readFaceApiWeights(manifest, bin);
      const theirs = tf.io.decodeWeights(bin.slice().buffer, specs as Parameters<Tf['io']['decodeWeights']>[1]);
      expect([...ours.keys()]).toEqual(specs.map((s) => s.name));
      for (const spec of specs) {
        const tensor = ours.get(spec.name)!;
        expect(tensor.shape).toEqual(spec.shape);
        expect(tensor.storage).toBe(spec.quantization ? 'q8' : 'f32');
        expect(maxAbsDiff(tensor.data, theirs[spec.name].dataSync())).toBe(0);
      }
      tf.dispose(Object.values(theirs));
    }
  });

  it('rejects a weights file of the wrong length or an unknown quantisation', () => {
    const { manifest, bin } = detector;
    expect(() => readFaceApiWeights(manifest, bin.subarray(0, bin.length - 1))).toThrow(FaceApiConversionError);
    expect(() => readFaceApiWeights(manifest, new Uint8Array([...bin, 0]))).toThrow(/describes/);
    const uint16 = structuredClone(manifest);
    uint16[0].weights[0].quantization!.dtype = 'uint16';
    expect(() => readFaceApiWeights(uint16, bin)).toThrow(/unsupported quantization/);
  });

  it('names a missing or unexpected weight', () => {
    const { manifest, bin } = detector;
    const renamed = structuredClone(manifest);
    renamed[0].weights[0].name = 'conv0/kernel';
    expect(() => convertTinyFaceDetector(renamed, bin)).toThrow(/"conv0\/filters" is missing/);
  });
});

describe('converted graphs', () => {
  it('teacher: 29 convs, 256-d hidden then 128-d descriptor, dlib normalisation', () => {
    const { graph, tensors, storage } = convertFaceRecognitionNet(recognition.manifest, recognition.bin);
    expect(graph.input).toEqual({ name: 'input', shape: [150, 150, 3] });
    expect(graph.outputs).toEqual(['hidden', 'descriptor']);
    expect(graph.meta?.outputShapes).toEqual({ hidden: [1, 1, 256], descriptor: [1, 1, 128] });
    expect(graph.preprocess).toEqual({ channelOrder: 'rgb', mean: [122.782, 117.001, 104.298], scale: [1 / 255, 1 / 255, 1 / 255] });
    expect(opCounts(graph)).toEqual({ conv: 29, affine: 29, maxpool: 1, avgpool: 4, pad: 2, add: 14, globalavgpool: 1, dense: 1 });
    // Every face-api weight is used once, untouched; the 8 conv64 filters face-api ships as float32 stay f32.
    expect(tensors.size).toBe(recognition.manifest[0].weights.length);
    expect([...storage].filter(([, s]) => s === 'f32').map(([name]) => name)).toEqual(
      ['conv64_down', 'conv64_1', 'conv64_2', 'conv64_3'].flatMap((b) => [`${b}/conv1/conv/filters`, `${b}/conv2/conv/filters`]),
    );
    const dense = graph.layers.find((l) => l.op === 'dense');
    expect(dense).toMatchObject({ input: 'hidden', weights: 'fc', units: 128 });
    expect(dense && 'bias' in dense && dense.bias).toBeFalsy();
  });

  it('landmarks: 112x112 input, 136 outputs, dense blocks of separable convs', () => {
    const { graph } = convertFaceLandmark68Net(landmarks.manifest, landmarks.bin);
    expect(graph.input.shape).toEqual([112, 112, 3]);
    expect(graph.meta?.outputShapes).toEqual({ landmarks: [1, 1, 136] });
    // dense0 conv0 is a plain conv; the other 15 convs are depthwise + pointwise.
    expect(graph.layers.filter((l) => l.op === 'conv' && l.groups > 1)).toHaveLength(15);
    const stem = graph.layers[0];
    expect(stem).toMatchObject({ op: 'conv', stride: [2, 2], pad: [0, 0, 1, 1] });
  });

  it('detector: 13x13x25 grid at 416, SAME max pools incl. the stride-1 one, leaky 0.1', () => {
    const { graph } = convertTinyFaceDetector(detector.manifest, detector.bin);
    expect(graph.meta).toMatchObject({ inputSize: 416, gridSize: 13, stride: 32, classes: ['face'], outputShapes: { grid: [13, 13, 25] } });
    const pools = graph.layers.filter((l): l is PoolLayer => l.op === 'maxpool');
    expect(pools.map((p) => [p.stride[0], ...p.pad])).toEqual([
      [2, 0, 0, 0, 0], // 414 -> 207
      [2, 0, 0, 1, 1], // 207 -> 104
      [2, 0, 0, 0, 0],
      [2, 0, 0, 0, 0],
      [2, 0, 0, 0, 0], // 26 -> 13
      [1, 0, 0, 1, 1], // 13 -> 13
    ]);
    const activations = graph.layers.flatMap((l) => ('activation' in l && l.activation.kind !== 'none' ? [l.activation] : []));
    expect(activations).toEqual(Array(6).fill({ kind: 'leaky', alpha: 0.10000000149011612 }));
    expect(convertTinyFaceDetector(detector.manifest, detector.bin, 224).graph.meta?.outputShapes).toEqual({ grid: [7, 7, 25] });
    expect(() => convertTinyFaceDetector(detector.manifest, detector.bin, 400)).toThrow(FaceApiConversionError);
  });

  it('q8 model files reproduce face-api\'s dequantised weights', () => {
    for (const [{ manifest, bin }, convert] of [
      [recognition, convertFaceRecognitionNet],
      [landmarks, convertFaceLandmark68Net],
      [detector, convertTinyFaceDetector],
    ] as const) {
      const net = convert(manifest, bin);
      const decoded = decodeModel(encodeConvertedNet(net));
      expect(decoded.graph).toEqual(net.graph);
      const source = readFaceApiWeights(manifest, bin);
      for (const [name, tensor] of net.tensors) {
        const original = source.get(name)!;
        const stored = decoded.tensors.get(name)!;
        expect(stored.shape).toEqual(tensor.shape);
        const range = original.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        // The same 8-bit codes: only the float rounding of min/scale can differ.
        expect(maxAbsDiff(stored.data, original.data)).toBeLessThanOrEqual(range * 1e-6);
      }
    }
  });

  it('the committed model files are what the converter produces now', () => {
    const files: Array<[string, ConvertedNet]> = [
      ['teacher-dlib-resnet.mobileid', convertFaceRecognitionNet(recognition.manifest, recognition.bin)],
      ['landmarks68.mobileid', convertFaceLandmark68Net(landmarks.manifest, landmarks.bin)],
      ['tiny-face-detector.mobileid', convertTinyFaceDetector(detector.manifest, detector.bin)],
    ];
    for (const [file, net] of files) {
      expect(Buffer.compare(readFileSync(path.join(repoRoot, 'models', file)), encodeConvertedNet(net)), file).toBe(0);
    }
  });
});

/** Executes a graph with plain tfjs ops, following the layer semantics documented in src/engine/graph.ts. */
function runGraphWithTf(tf: Tf, graph: GraphSpec, tensors: Map<string, Tensor>, input: Float32Array, batch: number): Float32Array[] {
  return tf.tidy(() => {
    const values = new Map<string, Tensor4D>();
    const get = (name: string) => values.get(name)!;
    const weight = (name: string, shape = tensors.get(name)!.shape) => tf.tensor(tensors.get(name)!.data, shape);
    const act = (x: TfTensor, a: Activation): Tensor4D =>
      (a.kind === 'relu' ? tf.relu(x) : a.kind === 'leaky' ? tf.leakyRelu(x, a.alpha) : a.kind === 'prelu' ? tf.prelu(x, weight(a.slope)) : x) as Tensor4D;
    const pad4 = (x: Tensor4D, [t, l, b, r]: number[], channels = 0, value = 0) =>
      tf.pad(x, [[0, 0], [t, b], [l, r], [0, channels]], value);
    values.set(graph.input.name, tf.tensor4d(input, [batch, ...graph.input.shape]));
    for (const layer of graph.layers) {
      let out: Tensor4D;
      if (layer.op === 'conv') {
        const x = pad4(get(layer.input), layer.pad);
        const [kh, kw] = layer.kernel;
        const y =
          layer.groups === 1
            ? tf.conv2d(x, weight(layer.weights) as Tensor4D, layer.stride, 'valid')
            : tf.depthwiseConv2d(x, weight(layer.weights, [kh, kw, layer.cout, 1]) as Tensor4D, layer.stride, 'valid');
        out = act(layer.bias ? tf.add(y, weight(layer.bias)) : y, layer.activation);
      } else if (layer.op === 'maxpool') {
        out = tf.maxPool(pad4(get(layer.input), layer.pad, 0, -Infinity), layer.kernel, layer.stride, 'valid');
      } else if (layer.op === 'avgpool') {
        if (layer.pad.some((p) => p)) throw new Error('padded avgpool is not used by these graphs');
        out = tf.avgPool(get(layer.input), layer.kernel, layer.stride, 'valid');
      } else if (layer.op === 'globalavgpool') {
        out = tf.mean(get(layer.input), [1, 2], true);
      } else if (layer.op === 'dense') {
        const y = tf.matMul(get(layer.input).reshape([batch, -1]), weight(layer.weights) as Tensor2D);
        out = act((layer.bias ? tf.add(y, weight(layer.bias)) : y).reshape([batch, 1, 1, layer.units]), layer.activation);
      } else if (layer.op === 'affine') {
        out = act(tf.add(tf.mul(get(layer.input), weight(layer.scale)), weight(layer.shift)), layer.activation);
      } else if (layer.op === 'add') {
        const [a, b] = layer.inputs.map(get);
        const [, ah, aw, ac] = a.shape;
        const [, bh, bw, bc] = b.shape;
        out = act(tf.add(a, pad4(b, [0, 0, ah - bh, aw - bw], ac - bc)), layer.activation);
      } else if (layer.op === 'pad') {
        // channels: the output's channel count (src/engine/plan.ts)
        out = pad4(get(layer.input), layer.pad, layer.channels - get(layer.input).shape[3]);
      } else if (layer.op === 'activation') {
        out = act(get(layer.input), layer.activation);
      } else {
        throw new Error(`unknown op in ${JSON.stringify(layer)}`);
      }
      values.set(layer.output, out);
    }
    return graph.outputs.map((name) => get(name).dataSync() as Float32Array);
  });
}

describe('converted graphs compute what face-api computes (reference: plain tfjs ops)', () => {
  let tf: Tf;
  let faceapi: FaceApi;
  beforeAll(async () => ({ tf, faceapi } = await loadFaceApi()));

  it('teacher descriptor', async () => {
    const { graph, tensors } = convertFaceRecognitionNet(recognition.manifest, recognition.bin);
    const pixels = smoothImage(1, 150, 150);
    const expected = (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(faceApiInput(tf.tensor4d(pixels, [1, 150, 150, 3])))) as Float32Array;
    const [hidden, descriptor] = runGraphWithTf(tf, graph, tensors, preprocess(pixels, graph.preprocess!), 1);
    expect(maxAbsDiff(descriptor, expected)).toBeLessThan(1e-5);
    expect(Math.min(...hidden)).toBeGreaterThanOrEqual(0);
  });

  it('landmarks', async () => {
    const { graph, tensors } = convertFaceLandmark68Net(landmarks.manifest, landmarks.bin);
    const pixels = smoothImage(2, 112, 112);
    const expected = faceapi.nets.faceLandmark68Net.forwardInput(await faceapi.toNetInput(faceApiInput(tf.tensor4d(pixels, [1, 112, 112, 3]))));
    const [out] = runGraphWithTf(tf, graph, tensors, preprocess(pixels, graph.preprocess!), 1);
    expect(maxAbsDiff(out, expected.dataSync())).toBeLessThan(1e-5);
  });

  it('detector grid', async () => {
    const { graph, tensors } = convertTinyFaceDetector(detector.manifest, detector.bin, 224);
    const pixels = smoothImage(3, 224, 224);
    const expected = await faceapi.nets.tinyFaceDetector.forward(faceApiInput(tf.tensor4d(pixels, [1, 224, 224, 3])), 224);
    const [out] = runGraphWithTf(tf, graph, tensors, preprocess(pixels, graph.preprocess!), 1);
    expect(maxAbsDiff(out, expected.dataSync())).toBeLessThan(1e-4);
  });
});
