// Backward pass of conv2d (NHWC, groups = 1) for training: gradients of the weights, the bias
// and the input, given the gradient of the output (after the activation has been undone).
import { conv2d } from './conv';
import { ACT_NONE } from './activations';

/**
 * dW[ky][kx][ci][co] += sum over output pixels (oy, ox) of
 *                       X[oy*sh + ky][ox*sw + kx][ci] * dY[oy][ox][co]
 * X is the (already padded) input, `inWidth` pixels wide with `cin` channels; dW is in the
 * canonical HWIO layout, i.e. a [kh*kw*cin][cout] matrix whose rows are the kernel taps.
 * That is a GEMM reducing over the pixels. For one kernel row ky, the kw*cin taps (kx, ci) of
 * a pixel are adjacent in memory, so the register tile takes 4 adjacent taps (one vector load,
 * each lane broadcast) x 8 output channels (two vector loads of dY): 8 v128 accumulators, 16
 * multiply/adds per 3 loads, and only two moving pointers (input pixel, gradient pixel).
 * Taps and channels left over by the tile are done by plain dot products.
 */
export function conv2dBackwardWeights(
  input: usize, inWidth: i32, cin: i32,
  gradOut: usize, outHeight: i32, outWidth: i32, cout: i32,
  gradWeights: usize, kh: i32, kw: i32, sh: i32, sw: i32,
): void {
  const run = kw * cin; // adjacent taps under one kernel row
  const tiledRun = run & ~3;
  const tiledChannels = cout & ~7;
  const rowStep = <usize>(sh * inWidth * cin) << 2; // input bytes between output rows
  const pixelStep = <usize>(sw * cin) << 2;
  const gradStep = <usize>cout << 2;
  const gradRow = <usize>outWidth * gradStep;
  for (let ky = 0; ky < kh; ky++) {
    for (let j = 0; j < tiledRun; j += 4) {
      const tap = ky * run + j;
      const origin = input + (<usize>(ky * inWidth * cin + j) << 2);
      for (let cb = 0; cb < tiledChannels; cb += 8) {
        const w0 = gradWeights + (<usize>(tap * cout + cb) << 2);
        const w1 = w0 + gradStep;
        const w2 = w1 + gradStep;
        const w3 = w2 + gradStep;
        let a00 = v128.load(w0), a01 = v128.load(w0, 16);
        let a10 = v128.load(w1), a11 = v128.load(w1, 16);
        let a20 = v128.load(w2), a21 = v128.load(w2, 16);
        let a30 = v128.load(w3), a31 = v128.load(w3, 16);
        for (let oy = 0; oy < outHeight; oy++) {
          let g = gradOut + <usize>oy * gradRow + (<usize>cb << 2);
          const end = g + gradRow;
          let p = origin + <usize>oy * rowStep;
          while (g < end) {
            const g0 = v128.load(g);
            const g1 = v128.load(g, 16);
            const x = v128.load(p);
            const x0 = v128.shuffle<f32>(x, x, 0, 0, 0, 0);
            const x1 = v128.shuffle<f32>(x, x, 1, 1, 1, 1);
            const x2 = v128.shuffle<f32>(x, x, 2, 2, 2, 2);
            const x3 = v128.shuffle<f32>(x, x, 3, 3, 3, 3);
            a00 = f32x4.add(a00, f32x4.mul(x0, g0));
            a01 = f32x4.add(a01, f32x4.mul(x0, g1));
            a10 = f32x4.add(a10, f32x4.mul(x1, g0));
            a11 = f32x4.add(a11, f32x4.mul(x1, g1));
            a20 = f32x4.add(a20, f32x4.mul(x2, g0));
            a21 = f32x4.add(a21, f32x4.mul(x2, g1));
            a30 = f32x4.add(a30, f32x4.mul(x3, g0));
            a31 = f32x4.add(a31, f32x4.mul(x3, g1));
            p += pixelStep;
            g += gradStep;
          }
        }
        v128.store(w0, a00); v128.store(w0, a01, 16);
        v128.store(w1, a10); v128.store(w1, a11, 16);
        v128.store(w2, a20); v128.store(w2, a21, 16);
        v128.store(w3, a30); v128.store(w3, a31, 16);
      }
    }
    // the rest of this kernel row: taps past the last full tile (all channels), and the
    // channels past the last full tile (tiled taps)
    for (let j = 0; j < run; j++) {
      const tap = ky * run + j;
      const origin = input + (<usize>(ky * inWidth * cin + j) << 2);
      for (let co = j < tiledRun ? tiledChannels : 0; co < cout; co++) {
        let sum: f32 = 0;
        for (let oy = 0; oy < outHeight; oy++) {
          let g = gradOut + <usize>oy * gradRow + (<usize>co << 2);
          let p = origin + <usize>oy * rowStep;
          for (let ox = 0; ox < outWidth; ox++) {
            sum += f32.load(p) * f32.load(g);
            p += pixelStep;
            g += gradStep;
          }
        }
        const at = gradWeights + (<usize>(tap * cout + co) << 2);
        f32.store(at, f32.load(at) + sum);
      }
    }
  }
}

/** db[c] += sum over `pixels` pixels of dY[p][c]. */
export function biasBackward(gradOut: usize, pixels: i32, channels: i32, gradBias: usize): void {
  const vecEnd = channels & ~3;
  for (let p = 0; p < pixels; p++) {
    const row = gradOut + (<usize>(p * channels) << 2);
    let c = 0;
    for (; c < vecEnd; c += 4) {
      const at = gradBias + (<usize>c << 2);
      v128.store(at, f32x4.add(v128.load(at), v128.load(row + (<usize>c << 2))));
    }
    for (; c < channels; c++) {
      const at = gradBias + (<usize>c << 2);
      f32.store(at, f32.load(at) + f32.load(row + (<usize>c << 2)));
    }
  }
}

/**
 * dX for Y = conv(pad(X)), as a "transposed convolution" run by the forward kernel:
 * 1. spread dY on a zero grid: dY[oy][ox] goes to grid[kh-1 + oy*sh][kw-1 + ox*sw]; the grid
 *    is (Hp + kh - 1) x (Wp + kw - 1) with Hp x Wp the padded input size;
 * 2. dXp[y][x][ci] = sum_{ky,kx,co} grid[y + ky][x + kx][co] * W[kh-1-ky][kw-1-kx][ci][co],
 *    i.e. conv2d with the kernel rotated by 180 degrees and ci/co swapped; `packedT` holds it
 *    packed like forward weights (panels of 8 input channels), `zeroBias` ceil8(cin) zeros.
 * Only the h x w pixels of dXp inside the padding are computed: the convolution starts at
 * grid row padTop, column padLeft. `grid` is scratch of gridHeight*gridWidth*cout floats.
 */
export function conv2dBackwardInput(
  gradOut: usize, outHeight: i32, outWidth: i32, cout: i32,
  grid: usize, gridHeight: i32, gridWidth: i32,
  gradIn: usize, inHeight: i32, inWidth: i32, cin: i32,
  packedT: usize, zeroBias: usize, kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
): void {
  const pixelBytes = <usize>cout << 2;
  memory.fill(grid, 0, <usize>(gridHeight * gridWidth) * pixelBytes);
  for (let oy = 0; oy < outHeight; oy++) {
    const gridRow = grid + <usize>((kh - 1 + oy * sh) * gridWidth + kw - 1) * pixelBytes;
    const gradRow = gradOut + <usize>(oy * outWidth) * pixelBytes;
    if (sw == 1) {
      memory.copy(gridRow, gradRow, <usize>outWidth * pixelBytes);
      continue;
    }
    for (let ox = 0; ox < outWidth; ox++) {
      memory.copy(gridRow + <usize>(ox * sw) * pixelBytes, gradRow + <usize>ox * pixelBytes, pixelBytes);
    }
  }
  const origin = grid + <usize>(padTop * gridWidth + padLeft) * pixelBytes;
  conv2d(origin, gridWidth, cout, cout, gradIn, inHeight, inWidth, cin, cin, packedT, zeroBias, kh, kw, 1, 1, ACT_NONE, 0, 0);
}
