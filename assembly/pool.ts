// Max / average pooling and global average pooling, NHWC, vectorised over channels.
// Padding follows TF 'SAME': padded cells are ignored (never win a max, never counted in a mean).

function pool(
  input: usize, inHeight: i32, inWidth: i32, channels: i32,
  output: usize, outHeight: i32, outWidth: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32, isMax: bool,
): void {
  const vecEnd = channels & ~3;
  for (let oy = 0; oy < outHeight; oy++) {
    const y0 = max(oy * sh - padTop, 0);
    const y1 = min(oy * sh - padTop + kh, inHeight);
    for (let ox = 0; ox < outWidth; ox++) {
      const x0 = max(ox * sw - padLeft, 0);
      const x1 = min(ox * sw - padLeft + kw, inWidth);
      const o = output + <usize>((oy * outWidth + ox) * channels) * 4;
      const count = <f32>((y1 - y0) * (x1 - x0));
      let c = 0;
      for (; c < vecEnd; c += 4) {
        const cc = <usize>c << 2;
        let acc = isMax ? f32x4.splat(-Infinity) : f32x4.splat(0);
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const v = v128.load(input + <usize>((y * inWidth + x) * channels) * 4 + cc);
            acc = isMax ? f32x4.max(acc, v) : f32x4.add(acc, v);
          }
        }
        v128.store(o + cc, isMax ? acc : f32x4.div(acc, f32x4.splat(count)));
      }
      for (; c < channels; c++) {
        const cc = <usize>c << 2;
        let acc: f32 = isMax ? -Infinity : 0;
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const v = f32.load(input + <usize>((y * inWidth + x) * channels) * 4 + cc);
            acc = isMax ? max(acc, v) : acc + v;
          }
        }
        f32.store(o + cc, isMax ? acc : acc / count);
      }
    }
  }
}

export function maxPool(
  input: usize, inHeight: i32, inWidth: i32, channels: i32,
  output: usize, outHeight: i32, outWidth: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
): void {
  pool(input, inHeight, inWidth, channels, output, outHeight, outWidth, kh, kw, sh, sw, padTop, padLeft, true);
}

export function avgPool(
  input: usize, inHeight: i32, inWidth: i32, channels: i32,
  output: usize, outHeight: i32, outWidth: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
): void {
  pool(input, inHeight, inWidth, channels, output, outHeight, outWidth, kh, kw, sh, sw, padTop, padLeft, false);
}

/** out[c] = mean over all pixels of in[.][c]. */
export function globalAvgPool(input: usize, pixels: i32, channels: i32, output: usize): void {
  pool(input, 1, pixels, channels, output, 1, 1, 1, pixels, 1, pixels, 0, 0, false);
}
