// Backward pass of depthwiseConv2d (groups = cin = cout, NHWC) for training: gradients of the
// weights and of the input, given the gradient of the output (after the activation has been
// undone; the bias gradient is conv's biasBackward). Each channel is its own 2-D convolution,
// so both loops run over the output pixels and vectorise over channels, 4 per v128.

/**
 * dW[ky][kx][c] += sum over output pixels (oy, ox) of X[oy*sh + ky][ox*sw + kx][c] * dY[oy][ox][c]
 * X is the (already padded) input, `inWidth` pixels wide; dW is in the file layout [kh][kw][c]
 * (no channel padding). The kh*kw*c accumulators stay in memory: a few KB, cache-resident.
 */
export function depthwiseBackwardWeights(
  input: usize, inWidth: i32, channels: i32,
  gradOut: usize, outHeight: i32, outWidth: i32,
  gradWeights: usize, kh: i32, kw: i32, sh: i32, sw: i32,
): void {
  const vecEnd = channels & ~3;
  const pixelBytes = <usize>channels << 2;
  for (let oy = 0; oy < outHeight; oy++) {
    for (let ox = 0; ox < outWidth; ox++) {
      const g = gradOut + <usize>(oy * outWidth + ox) * pixelBytes;
      const origin = input + <usize>(oy * sh * inWidth + ox * sw) * pixelBytes;
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const x = origin + <usize>(ky * inWidth + kx) * pixelBytes;
          const w = gradWeights + <usize>(ky * kw + kx) * pixelBytes;
          let c = 0;
          for (; c < vecEnd; c += 4) {
            const cc = <usize>c << 2;
            v128.store(w + cc, f32x4.add(v128.load(w + cc), f32x4.mul(v128.load(x + cc), v128.load(g + cc))));
          }
          for (; c < channels; c++) {
            const cc = <usize>c << 2;
            f32.store(w + cc, f32.load(w + cc) + f32.load(x + cc) * f32.load(g + cc));
          }
        }
      }
    }
  }
}

/**
 * dX = the gradient of the unpadded input: every output pixel scatters W[ky][kx][c] * dY[oy][ox][c]
 * onto the padded input grid (gridHeight x gridWidth, zeroed first), whose interior (offset padTop,
 * padLeft) is then copied to gradIn (inHeight x inWidth). `weights` is in the forward kernel's layout:
 * [kh][kw][c] with c padded to a multiple of 4.
 */
export function depthwiseBackwardInput(
  gradOut: usize, outHeight: i32, outWidth: i32, channels: i32,
  weights: usize, grid: usize, gridHeight: i32, gridWidth: i32,
  gradIn: usize, inHeight: i32, inWidth: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
): void {
  const vecEnd = channels & ~3;
  const pixelBytes = <usize>channels << 2;
  const tapBytes = <usize>((channels + 3) & ~3) << 2;
  memory.fill(grid, 0, <usize>(gridHeight * gridWidth) * pixelBytes);
  for (let oy = 0; oy < outHeight; oy++) {
    for (let ox = 0; ox < outWidth; ox++) {
      const g = gradOut + <usize>(oy * outWidth + ox) * pixelBytes;
      const origin = grid + <usize>(oy * sh * gridWidth + ox * sw) * pixelBytes;
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const d = origin + <usize>(ky * gridWidth + kx) * pixelBytes;
          const w = weights + <usize>(ky * kw + kx) * tapBytes;
          let c = 0;
          for (; c < vecEnd; c += 4) {
            const cc = <usize>c << 2;
            v128.store(d + cc, f32x4.add(v128.load(d + cc), f32x4.mul(v128.load(w + cc), v128.load(g + cc))));
          }
          for (; c < channels; c++) {
            const cc = <usize>c << 2;
            f32.store(d + cc, f32.load(d + cc) + f32.load(w + cc) * f32.load(g + cc));
          }
        }
      }
    }
  }
  const rowBytes = <usize>inWidth * pixelBytes;
  for (let y = 0; y < inHeight; y++) {
    memory.copy(gradIn + <usize>y * rowBytes, grid + <usize>((y + padTop) * gridWidth + padLeft) * pixelBytes, rowBytes);
  }
}
