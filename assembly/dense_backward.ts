// Backward pass of a dense layer y[b] = x[b] W + bias over a batch, as two batched GEMMs.
import { ACT_NONE } from './activations';
import { conv2dBackwardWeights } from './conv_backward';
import { dense } from './dense';

/**
 * dW[n][u] += sum_b x[b][n] * dY[b][u]  (dW canonical [inputs][units]).
 * A dense layer is a 1x1 convolution over a 1 x batch image, so the conv kernel does it.
 */
export function denseBackwardWeights(input: usize, batch: i32, inputs: i32, gradOut: usize, units: i32, gradWeights: usize): void {
  conv2dBackwardWeights(input, batch, inputs, gradOut, 1, batch, units, gradWeights, 1, 1, 1, 1);
}

/**
 * dX[b][n] = sum_u dY[b][u] * W[n][u]: the forward kernel with W transposed, which the caller
 * packs like forward weights of a units -> inputs layer (`packedT`); `zeroBias` holds
 * ceil8(inputs) zeros.
 */
export function denseBackwardInput(gradOut: usize, batch: i32, units: i32, gradIn: usize, inputs: i32, packedT: usize, zeroBias: usize): void {
  dense(gradOut, batch, units, gradIn, inputs, packedT, zeroBias, ACT_NONE, 0, 0);
}
