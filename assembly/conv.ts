// 2-D convolution, NHWC, "valid" (the engine zero-pads into a scratch buffer first).
//
// Implicit GEMM: M = output pixels, N = output channels, K = kh*kw*cin. The micro-kernel
// keeps a 4-pixel x 8-channel tile in 8 v128 accumulators: per K step it loads 8 weights
// (2 v128) and broadcasts one input value per pixel, i.e. 8 multiply-adds per 3 loads.
// Weights are packed by the engine into panels of 8 output channels:
//   packed[ceil(cout/8)][kh][kw][cin][8]   (zero-filled past cout)
// so the inner loop streams one panel linearly. Bias and PReLU slopes are padded to ceil8.
import { activate4, slopes4 } from './activations';

const TAIL: usize = memory.data(32, 16);

/** Stores 8 channels (two vectors) at `at`, or only the first `n` when n < 8. */
// @ts-ignore: decorator
@inline
export function store8(at: usize, lo: v128, hi: v128, n: i32): void {
  if (n >= 8) {
    v128.store(at, lo);
    v128.store(at, hi, 16);
    return;
  }
  v128.store(TAIL, lo);
  v128.store(TAIL, hi, 16);
  memory.copy(at, TAIL, <usize>n << 2);
}

/** Activates a 4-row x 8-channel accumulator tile and stores its rows `step` bytes apart. */
// @ts-ignore: decorator
@inline
export function storeTile(
  at: usize, step: usize, n: i32, act: i32, alpha: f32, s0: v128, s1: v128,
  a00: v128, a01: v128, a10: v128, a11: v128, a20: v128, a21: v128, a30: v128, a31: v128,
): void {
  store8(at, activate4(a00, act, alpha, s0), activate4(a01, act, alpha, s1), n);
  store8(at + step, activate4(a10, act, alpha, s0), activate4(a11, act, alpha, s1), n);
  store8(at + 2 * step, activate4(a20, act, alpha, s0), activate4(a21, act, alpha, s1), n);
  store8(at + 3 * step, activate4(a30, act, alpha, s0), activate4(a31, act, alpha, s1), n);
}

/**
 * out[oy][ox][co] = act(bias[co] + sum_{ky,kx,ci} in[oy*sh+ky][ox*sw+kx][ci] * w[ky][kx][ci][co])
 * inStride / outStride are the channel counts of a pixel in the input / output buffers, so a
 * group of a grouped convolution can read and write a channel slice (pointers pre-offset).
 */
export function conv2d(
  input: usize, inWidth: i32, inStride: i32, cin: i32,
  output: usize, outHeight: i32, outWidth: i32, outStride: i32, cout: i32,
  packed: usize, bias: usize, kh: i32, kw: i32, sh: i32, sw: i32,
  act: i32, alpha: f32, slope: usize,
): void {
  const panelK = kh * kw * cin;
  const pixelStep = <usize>(sw * inStride) << 2; // bytes between neighbouring output pixels' inputs
  const rowBytes = <usize>(inWidth * inStride) << 2;
  const kxBytes = <usize>inStride << 2;
  const contiguous = inStride == cin; // kw*cin inputs under one kernel row are adjacent
  for (let cb = 0; cb < cout; cb += 8) {
    const panel = packed + <usize>(cb * panelK) * 4;
    const b0 = v128.load(bias + (<usize>cb << 2));
    const b1 = v128.load(bias + (<usize>cb << 2), 16);
    const s0 = slopes4(slope, cb);
    const s1 = slopes4(slope, cb + 4);
    const n = cout - cb;
    for (let oy = 0; oy < outHeight; oy++) {
      const inRow = input + <usize>(oy * sh) * rowBytes;
      const outRow = output + <usize>(oy * outWidth * outStride + cb) * 4;
      let ox = 0;
      for (; ox + 4 <= outWidth; ox += 4) {
        let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
        let w = panel;
        const origin = inRow + <usize>(ox * sw * inStride) * 4;
        for (let ky = 0; ky < kh; ky++) {
          const kyRow = origin + <usize>ky * rowBytes;
          const runs = contiguous ? 1 : kw;
          const runLength = contiguous ? kw * cin : cin;
          for (let r = 0; r < runs; r++) {
            let p = kyRow + <usize>r * kxBytes;
            const end = p + (<usize>runLength << 2);
            for (; p < end; p += 4) {
              const w0 = v128.load(w);
              const w1 = v128.load(w, 16);
              w += 32;
              const x0 = v128.load32_splat(p);
              const x1 = v128.load32_splat(p + pixelStep);
              const x2 = v128.load32_splat(p + 2 * pixelStep);
              const x3 = v128.load32_splat(p + 3 * pixelStep);
              a00 = f32x4.add(a00, f32x4.mul(x0, w0));
              a01 = f32x4.add(a01, f32x4.mul(x0, w1));
              a10 = f32x4.add(a10, f32x4.mul(x1, w0));
              a11 = f32x4.add(a11, f32x4.mul(x1, w1));
              a20 = f32x4.add(a20, f32x4.mul(x2, w0));
              a21 = f32x4.add(a21, f32x4.mul(x2, w1));
              a30 = f32x4.add(a30, f32x4.mul(x3, w0));
              a31 = f32x4.add(a31, f32x4.mul(x3, w1));
            }
          }
        }
        const o = outRow + <usize>(ox * outStride) * 4;
        storeTile(o, <usize>outStride << 2, n, act, alpha, s0, s1, a00, a01, a10, a11, a20, a21, a30, a31);
      }
      for (; ox < outWidth; ox++) {
        let a0 = b0, a1 = b1;
        let w = panel;
        const origin = inRow + <usize>(ox * sw * inStride) * 4;
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            let p = origin + <usize>ky * rowBytes + <usize>kx * kxBytes;
            const end = p + (<usize>cin << 2);
            for (; p < end; p += 4) {
              const x0 = v128.load32_splat(p);
              a0 = f32x4.add(a0, f32x4.mul(x0, v128.load(w)));
              a1 = f32x4.add(a1, f32x4.mul(x0, v128.load(w, 16)));
              w += 32;
            }
          }
        }
        store8(outRow + <usize>(ox * outStride) * 4, activate4(a0, act, alpha, s0), activate4(a1, act, alpha, s1), n);
      }
    }
  }
}
