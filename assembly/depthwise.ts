// Depthwise 2-D convolution (groups = cin = cout), NHWC, "valid" (input pre-padded).
// Vectorised over channels, 4 per v128; weights stay in their file layout [kh][kw][c]
// with c padded to a multiple of 4 by the engine, bias and slopes likewise.
import { activate4, activate1 } from './activations';

export function depthwiseConv2d(
  input: usize, inWidth: i32, channels: i32,
  output: usize, outHeight: i32, outWidth: i32,
  weights: usize, bias: usize, kh: i32, kw: i32, sh: i32, sw: i32,
  act: i32, alpha: f32, slope: usize,
): void {
  const cPad = (channels + 3) & ~3;
  const vecEnd = channels & ~3;
  for (let oy = 0; oy < outHeight; oy++) {
    for (let ox = 0; ox < outWidth; ox++) {
      const origin = input + <usize>((oy * sh * inWidth + ox * sw) * channels) * 4;
      const o = output + <usize>((oy * outWidth + ox) * channels) * 4;
      let c = 0;
      for (; c < vecEnd; c += 4) {
        const cc = <usize>c << 2;
        let acc = v128.load(bias + cc);
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            const x = v128.load(origin + <usize>((ky * inWidth + kx) * channels) * 4 + cc);
            const w = v128.load(weights + <usize>((ky * kw + kx) * cPad) * 4 + cc);
            acc = f32x4.add(acc, f32x4.mul(x, w));
          }
        }
        v128.store(o + cc, activate4(acc, act, alpha, slope ? v128.load(slope + cc) : f32x4.splat(0)));
      }
      for (; c < channels; c++) {
        const cc = <usize>c << 2;
        let acc = f32.load(bias + cc);
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            acc += f32.load(origin + <usize>((ky * inWidth + kx) * channels) * 4 + cc) * f32.load(weights + <usize>((ky * kw + kx) * cPad) * 4 + cc);
          }
        }
        f32.store(o + cc, activate1(acc, act, alpha, slope ? f32.load(slope + cc) : 0));
      }
    }
  }
}
