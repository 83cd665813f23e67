// Depthwise 2-D convolution (groups = cin = cout), NHWC, "valid" (input pre-padded).
// Vectorised over channels, 4 per v128; weights stay in their file layout [kh][kw][c]
// with c padded to a multiple of 4 by the engine, bias and slopes likewise.
// Four output pixels of a row are computed together, so each weight load serves four
// multiply-adds (one per pixel) instead of one.
import { activate4, activate1 } from './activations';

export function depthwiseConv2d(
  input: usize, inWidth: i32, channels: i32,
  output: usize, outHeight: i32, outWidth: i32,
  weights: usize, bias: usize, kh: i32, kw: i32, sh: i32, sw: i32,
  act: i32, alpha: f32, slope: usize,
): void {
  const cPad = (channels + 3) & ~3;
  const vecEnd = channels & ~3;
  const pixelBytes = <usize>channels << 2;
  const pixelStep = <usize>sw * pixelBytes; // input bytes between neighbouring output pixels
  const rowBytes = <usize>inWidth * pixelBytes;
  const tapBytes = <usize>cPad << 2;
  for (let oy = 0; oy < outHeight; oy++) {
    const inRow = input + <usize>(oy * sh) * rowBytes;
    const outRow = output + <usize>(oy * outWidth) * pixelBytes;
    let ox = 0;
    for (; ox + 4 <= outWidth; ox += 4) {
      const origin = inRow + <usize>ox * pixelStep;
      const o = outRow + <usize>ox * pixelBytes;
      for (let c = 0; c < vecEnd; c += 4) {
        const cc = <usize>c << 2;
        const b = v128.load(bias + cc);
        let a0 = b, a1 = b, a2 = b, a3 = b;
        for (let ky = 0; ky < kh; ky++) {
          let x = origin + <usize>ky * rowBytes + cc;
          let w = weights + <usize>(ky * kw) * tapBytes + cc;
          for (let kx = 0; kx < kw; kx++) {
            const wv = v128.load(w);
            a0 = f32x4.add(a0, f32x4.mul(v128.load(x), wv));
            a1 = f32x4.add(a1, f32x4.mul(v128.load(x + pixelStep), wv));
            a2 = f32x4.add(a2, f32x4.mul(v128.load(x + 2 * pixelStep), wv));
            a3 = f32x4.add(a3, f32x4.mul(v128.load(x + 3 * pixelStep), wv));
            x += pixelBytes;
            w += tapBytes;
          }
        }
        const s = slope ? v128.load(slope + cc) : f32x4.splat(0);
        v128.store(o + cc, activate4(a0, act, alpha, s));
        v128.store(o + pixelBytes + cc, activate4(a1, act, alpha, s));
        v128.store(o + 2 * pixelBytes + cc, activate4(a2, act, alpha, s));
        v128.store(o + 3 * pixelBytes + cc, activate4(a3, act, alpha, s));
      }
      for (let p = 0; p < 4; p++) depthwiseChannelTail(origin + <usize>p * pixelStep, o + <usize>p * pixelBytes, vecEnd, channels, rowBytes, pixelBytes, weights, tapBytes, bias, kh, kw, act, alpha, slope);
    }
    for (; ox < outWidth; ox++) {
      const origin = inRow + <usize>ox * pixelStep;
      const o = outRow + <usize>ox * pixelBytes;
      for (let c = 0; c < vecEnd; c += 4) {
        const cc = <usize>c << 2;
        let acc = v128.load(bias + cc);
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            const x = v128.load(origin + <usize>ky * rowBytes + <usize>kx * pixelBytes + cc);
            const w = v128.load(weights + <usize>(ky * kw + kx) * tapBytes + cc);
            acc = f32x4.add(acc, f32x4.mul(x, w));
          }
        }
        v128.store(o + cc, activate4(acc, act, alpha, slope ? v128.load(slope + cc) : f32x4.splat(0)));
      }
      depthwiseChannelTail(origin, o, vecEnd, channels, rowBytes, pixelBytes, weights, tapBytes, bias, kh, kw, act, alpha, slope);
    }
  }
}

/** Channels from..channels-1 of one output pixel (those after the last whole vector), one at a time. */
// @ts-ignore: decorator
@inline
function depthwiseChannelTail(
  origin: usize, o: usize, from: i32, channels: i32, rowBytes: usize, pixelBytes: usize,
  weights: usize, tapBytes: usize, bias: usize, kh: i32, kw: i32, act: i32, alpha: f32, slope: usize,
): void {
  for (let c = from; c < channels; c++) {
    const cc = <usize>c << 2;
    let acc = f32.load(bias + cc);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        acc += f32.load(origin + <usize>ky * rowBytes + <usize>kx * pixelBytes + cc) * f32.load(weights + <usize>(ky * kw + kx) * tapBytes + cc);
      }
    }
    f32.store(o + cc, activate1(acc, act, alpha, slope ? f32.load(slope + cc) : 0));
  }
}
