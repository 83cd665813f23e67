/**
 * The MobileID student (Luo et al., AAAI 2016, public prototxt): no padding, ReLU after every
 * layer. Input 55x47 (HxW, the DeepID patch size) BGR scaled as x*3.2/255 - 1.6.
 *   conv1 64@4x4 -> maxpool 2/2 -> conv2 64@3x3 -> maxpool 2/2 -> conv3 64@3x3 -> maxpool 2/2
 *   -> fc 500 -> fc 500 -> fc <outputs> (422 selected teacher neurons in the paper)
 * Shapes: 55x47 -> 52x44 -> 26x22 -> 24x20 -> 12x10 -> 10x8 -> 5x4 (x64 = 1280 into fc1).
 *
 * `arch: 'deep'` spends the rest of MobileID's budget (1.5 M parameters, 90 MFLOP per face) on the
 * convolutional trunk, where the paper's student is thinnest: conv3 gets 128 channels and a
 * conv4 128@3x3 (padding 1) runs on the 5x4 map; fc1/fc2 shrink to 384 so the parameters fit
 * (1.44 M parameters, 69.5 MFLOP against the paper layout's 1.03 M and 57 MFLOP at 128 outputs).
 *
 * `arch: 'conv5'` moves parameters from the fully connected head into the trunk, since two thirds of
 * the deep layout's parameters sit in fc1: conv1-3 as in the deep layout, then two 160@3x3 (padding 1)
 * on the 5x4 map, fc1/fc2 of 256 (5x4x160 = 3,200 into fc1): 1.45 M parameters, 79.7 MFLOP.
 *
 * `arch: 'mobile'` is a depthwise-separable trunk in the manner of MobileNet (Howard et al., 2017) and
 * MobileFaceNet (Chen et al., CCBR 2018), which put far more layers into this budget: conv1 32@3x3
 * at full resolution, then seven blocks of a 3x3 depthwise convolution (stride 2 in the second, fourth
 * and sixth) and a 1x1 convolution widening 32 -> 64 -> 96 -> 96 -> 192 -> 192 -> 384 -> 384 (maps
 * 55x47 -> 28x24 -> 14x12 -> 7x6, every convolution padded by 1), a global depthwise 7x6
 * convolution (MobileFaceNet's GDC) to 384 values, fc1 and fc2 of 512: 0.85 M parameters, 78.7 MFLOP.
 *
 * `arch: 'deep-res'` is the deep layout with one residual block on the 12x10 map: pool2 plus a
 * 64@3x3 (padding 1) convolution of it, read by conv3 (1.48 M parameters, 78.3 MFLOP). Every
 * tensor of the deep layout is in it with the same shape, so a deep run can be grown into it
 * (distill --init-from a deep checkpoint: the block starts as the identity).
 *
 * `activation: 'prelu'` puts a PReLU with one learnt slope per channel (He et al., ICCV 2015;
 * initial slope 0.25) where the ReLUs are: 1,152 more parameters in the deep layout, no more
 * multiply-adds.
 */
import type { GraphSpec, Layer } from '../engine/graph.js';
import type { Tensor } from '../engine/model-format.js';
import { inferShapes } from '../engine/plan.js';
import { seededRandom } from '../math/random.js';

/** The student's aligned face crop (align.ts makes it): every other use of its size reads these. */
export const STUDENT_CROP_WIDTH = 47;
export const STUDENT_CROP_HEIGHT = 55;
export const STUDENT_INPUT: [number, number, number] = [STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH, 3];

export const STUDENT_ARCHITECTURES = ['paper', 'deep', 'conv5', 'mobile', 'deep-res'] as const;
export type StudentArchitecture = (typeof STUDENT_ARCHITECTURES)[number];
/** Whether a command-line value names a student layout (each caller throws its own error otherwise). */
export const isStudentArchitecture = (value: unknown): value is StudentArchitecture =>
  (STUDENT_ARCHITECTURES as readonly unknown[]).includes(value);
/** Layouts a run of another layout can be grown into (distill --init-from its checkpoint; warm-start.ts growWeights). */
export const STUDENT_GROWS_FROM: Partial<Record<StudentArchitecture, StudentArchitecture>> = { 'deep-res': 'deep' };
export const STUDENT_ACTIVATIONS = ['relu', 'prelu'] as const;
export type StudentActivation = (typeof STUDENT_ACTIVATIONS)[number];
const OUTPUT_LAYER = 'fc3';
/** A PReLU slope before training (He et al.'s). */
const INITIAL_PRELU_SLOPE = 0.25;

export interface StudentOptions {
  /** Width of the regressed representation (the last fc). Default 422 as in the paper. */
  outputs?: number;
  /** Layer widths: the paper's (default), or one of the deeper trunks described above. */
  arch?: StudentArchitecture;
  /** The activation of every layer but the last: ReLU (the paper's, default) or PReLU. */
  activation?: StudentActivation;
  name?: string;
}

export function studentGraph(options: StudentOptions = {}): GraphSpec {
  const outputs = options.outputs ?? 422;
  const arch = options.arch ?? 'paper';
  const prelu = options.activation === 'prelu';
  // the last layer keeps the paper's ReLU here; training and export set its own (targets.ts)
  const activation = (output: string) => (prelu && output !== OUTPUT_LAYER ? { kind: 'prelu', slope: `${output}.slope` } as const : { kind: 'relu' } as const);
  const conv = (input: string, output: string, k: number, cout = 64, pad = 0, stride = 1, groups = 1, kernel: [number, number] = [k, k]): Layer => ({
    op: 'conv', input, output, weights: `${output}.w`, bias: `${output}.b`, cout,
    kernel, stride: [stride, stride], pad: [pad, pad, pad, pad], groups, activation: activation(output),
  });
  /** A 3x3 depthwise convolution (padding 1) of `channels` channels, then a 1x1 one to `cout`: block n of the mobile trunk. */
  const separable = (input: string, n: number, channels: number, cout: number, stride: number): Layer[] => [
    conv(input, `dw${n}`, 3, channels, 1, stride, channels), conv(`dw${n}`, `pw${n}`, 1, cout),
  ];
  const pool = (input: string, output: string): Layer => ({
    op: 'maxpool', input, output, kernel: [2, 2], stride: [2, 2], pad: [0, 0, 0, 0],
  });
  const fc = (input: string, output: string, units: number): Layer => ({
    op: 'dense', input, output, weights: `${output}.w`, bias: `${output}.b`, units, activation: activation(output),
  });
  const stem = [conv('image', 'conv1', 4), pool('conv1', 'pool1'), conv('pool1', 'conv2', 3), pool('conv2', 'pool2')];
  const trunk = ({
    paper: [
      ...stem, conv('pool2', 'conv3', 3), pool('conv3', 'pool3'),
      fc('pool3', 'fc1', 500), fc('fc1', 'fc2', 500),
    ],
    deep: [
      ...stem, conv('pool2', 'conv3', 3, 128), pool('conv3', 'pool3'),
      conv('pool3', 'conv4', 3, 128, 1),
      fc('conv4', 'fc1', 384), fc('fc1', 'fc2', 384),
    ],
    'deep-res': [
      ...stem, conv('pool2', 'res2', 3, 64, 1), { op: 'add', inputs: ['pool2', 'res2'], output: 'block2', activation: { kind: 'none' } },
      conv('block2', 'conv3', 3, 128), pool('conv3', 'pool3'),
      conv('pool3', 'conv4', 3, 128, 1),
      fc('conv4', 'fc1', 384), fc('fc1', 'fc2', 384),
    ],
    conv5: [
      ...stem, conv('pool2', 'conv3', 3, 128), pool('conv3', 'pool3'),
      conv('pool3', 'conv4', 3, 160, 1), conv('conv4', 'conv5', 3, 160, 1),
      fc('conv5', 'fc1', 256), fc('fc1', 'fc2', 256),
    ],
    mobile: [
      conv('image', 'conv1', 3, 32, 1),
      ...separable('conv1', 1, 32, 64, 1), ...separable('pw1', 2, 64, 96, 2),
      ...separable('pw2', 3, 96, 96, 1), ...separable('pw3', 4, 96, 192, 2),
      ...separable('pw4', 5, 192, 192, 1), ...separable('pw5', 6, 192, 384, 2),
      ...separable('pw6', 7, 384, 384, 1),
      conv('pw7', 'gdc', 0, 384, 0, 1, 384, [7, 6]),
      fc('gdc', 'fc1', 512), fc('fc1', 'fc2', 512),
    ],
  } satisfies Record<StudentArchitecture, Layer[]>)[arch];
  return {
    name: options.name ?? 'mobileid-student',
    input: { name: 'image', shape: STUDENT_INPUT },
    outputs: [OUTPUT_LAYER],
    layers: [...trunk, fc(trunk[trunk.length - 1].output, OUTPUT_LAYER, outputs)],
    preprocess: { channelOrder: 'bgr', mean: [127.5, 127.5, 127.5], scale: [3.2 / 255, 3.2 / 255, 3.2 / 255] },
  };
}

/** He-uniform weights, small biases and PReLU's initial slopes for every conv and dense layer of `graph`. */
export function initWeights(graph: GraphSpec, seed = 1): Map<string, Tensor> {
  const random = seededRandom(seed);
  const tensors = new Map<string, Tensor>();
  const uniform = (count: number, limit: number) => Float32Array.from({ length: count }, () => (random() * 2 - 1) * limit);
  graph.layers.forEach((layer, i) => {
    if (layer.op !== 'conv' && layer.op !== 'dense') return;
    // shapes of the layers before this one, whose weights already exist
    const before = inferShapes({ ...graph, layers: graph.layers.slice(0, i), outputs: [layer.input] }, tensors);
    const [h, w, c] = before.get(layer.input)!;
    const shape = layer.op === 'conv'
      ? [layer.kernel[0], layer.kernel[1], c / layer.groups, layer.cout]
      : [h * w * c, layer.units];
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const units = shape[shape.length - 1];
    tensors.set(layer.weights, { shape, data: uniform(fanIn * units, Math.sqrt(6 / fanIn)) });
    if (layer.bias) tensors.set(layer.bias, { shape: [units], data: uniform(units, 0.02) });
    if (layer.activation.kind === 'prelu') tensors.set(layer.activation.slope, { shape: [units], data: new Float32Array(units).fill(INITIAL_PRELU_SLOPE) });
  });
  return tensors;
}

/** Parameters and floating-point operations (2 per multiply-add) of one face through `graph`. */
export function graphCost(graph: GraphSpec, tensors: Map<string, Tensor>): { parameters: number; flops: number } {
  const shapes = inferShapes(graph, tensors);
  let parameters = 0;
  let flops = 0;
  for (const layer of graph.layers) {
    if (layer.op !== 'conv' && layer.op !== 'dense') continue;
    const weights = tensors.get(layer.weights)!.data.length;
    parameters += weights + (layer.bias ? tensors.get(layer.bias)!.data.length : 0);
    if (layer.activation.kind === 'prelu') parameters += tensors.get(layer.activation.slope)!.data.length;
    const [h, w] = shapes.get(layer.output)!;
    flops += 2 * weights * (layer.op === 'conv' ? h * w : 1);
  }
  return { parameters, flops };
}
