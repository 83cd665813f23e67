// The wasm module's exports: every kernel takes raw byte pointers into linear memory, which
// the TypeScript engine lays out (weights and activations of each loaded model) above heapBase.
export { activation, affine, add, pad } from './activations';
export { conv2d } from './conv';
export { depthwiseConv2d } from './depthwise';
export { maxPool, avgPool, globalAvgPool } from './pool';
export { dense } from './dense';
export { addInt16, conv2dInt8, conv2dInt8Wide, depthwiseConv2dInt8, denseInt8, denseInt4, maxPoolInt16, padInt16, quantizeInput } from './quantized';

/** First byte of linear memory that the engine may use (after static data and the stack). */
export function heapBase(): usize {
  return __heap_base;
}
export { conv2dBackwardWeights, conv2dBackwardInput, biasBackward } from './conv_backward';
export { depthwiseBackwardWeights, depthwiseBackwardInput } from './depthwise_backward';
export { maxPoolBackward } from './pool_backward';
export { denseBackwardWeights, denseBackwardInput } from './dense_backward';
export { reluBackward, preluBackward } from './activations_backward';
export { batchNormStatistics } from './batch_norm';
export { batchNormGradientSums, batchNormInputGradient } from './batch_norm_backward';
