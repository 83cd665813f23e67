/**
 * The layer graph a model file describes. Tensors are NHWC: every activation is, per image,
 * a [height, width, channels] block with channels innermost, because the SIMD kernels
 * vectorise over output channels (4 lanes per v128) and, for stride-1 convolutions, the
 * kw*cin inputs under one kernel row are contiguous — the conv becomes a plain GEMM panel.
 *
 * Weight layouts (as stored in the model file):
 * - conv:   [kh][kw][cin/groups][cout]   (TensorFlow HWIO); depthwise: groups = cin = cout
 * - dense:  [in][out]; the input is the producer's [h][w][c] block flattened in that order
 * - bias / scale / shift / prelu slope: [channels]
 */

/** Activation fused into a layer's epilogue. */
export type Activation =
  | { kind: 'none' }
  | { kind: 'relu' }
  | { kind: 'leaky'; alpha: number }
  | { kind: 'prelu'; slope: string };

/** [top, left, bottom, right] zero padding in pixels. */
export type Padding = [number, number, number, number];

interface LayerBase {
  /** Name of the tensor this layer writes. */
  output: string;
}

export interface ConvLayer extends LayerBase {
  op: 'conv';
  input: string;
  weights: string;
  bias?: string;
  cout: number;
  kernel: [number, number];
  stride: [number, number];
  pad: Padding;
  groups: number;
  activation: Activation;
}

export interface PoolLayer extends LayerBase {
  op: 'maxpool' | 'avgpool';
  input: string;
  kernel: [number, number];
  stride: [number, number];
  /** Padded cells are ignored (max: -inf, avg: not counted), as in TF 'SAME'. */
  pad: Padding;
}

export interface GlobalAvgPoolLayer extends LayerBase {
  op: 'globalavgpool';
  input: string;
}

export interface DenseLayer extends LayerBase {
  op: 'dense';
  input: string;
  weights: string;
  bias?: string;
  units: number;
  activation: Activation;
}

/** Per-channel y = x * scale + shift (folded batch-norm / face-api "scale" layers). */
export interface AffineLayer extends LayerBase {
  op: 'affine';
  input: string;
  scale: string;
  shift: string;
  activation: Activation;
}

/**
 * Elementwise a + b. `b` may have fewer channels than `a` (missing channels count as zero)
 * and a smaller spatial size (missing rows/columns at the bottom/right count as zero), which
 * is how ResNet shortcuts with zero-padding are written.
 */
export interface AddLayer extends LayerBase {
  op: 'add';
  inputs: [string, string];
  activation: Activation;
}

/** Zero padding: spatial (top, left, bottom, right); `channels` is the OUTPUT channel count
 * (>= the input's), the extra channels at the end being zero. */
export interface PadLayer extends LayerBase {
  op: 'pad';
  input: string;
  pad: Padding;
  channels: number;
}

/** Standalone activation. */
export interface ActivationLayer extends LayerBase {
  op: 'activation';
  input: string;
  activation: Activation;
}

export type Layer =
  | ConvLayer
  | PoolLayer
  | GlobalAvgPoolLayer
  | DenseLayer
  | AffineLayer
  | AddLayer
  | PadLayer
  | ActivationLayer;

export type LayerOp = Layer['op'];

/** How raw RGB pixels (0..255) become the network input: x' = (x[order] - mean) * scale. */
export interface Preprocess {
  channelOrder: 'rgb' | 'bgr';
  mean: [number, number, number];
  scale: [number, number, number];
}

/**
 * Activation scales of a quantised model (engine/quantization.ts): every tensor the integer
 * kernels read or write holds 8-bit codes, value = code * scale.
 */
export interface QuantizationSpec {
  /** Scale per tensor name, the graph input included. */
  activations: Record<string, number>;
}

export interface GraphSpec {
  name: string;
  /** Input tensor name and its per-image shape [h, w, c]. */
  input: { name: string; shape: [number, number, number] };
  /** Tensors returned by run(), in order. */
  outputs: string[];
  layers: Layer[];
  preprocess?: Preprocess;
  /** Present on quantised models (format version 2): they run on the integer kernels. */
  quantization?: QuantizationSpec;
  /** Free-form metadata (provenance, licence, template, ...). */
  meta?: Record<string, unknown>;
}
