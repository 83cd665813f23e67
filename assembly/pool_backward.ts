// Backward pass of max pooling: each output's gradient goes to the input cell that won the
// max, found again from the forward input (first winner in scan order on ties, as the
// forward pass keeps the first maximum). Overlapping windows add up.

export function maxPoolBackward(
  input: usize, inHeight: i32, inWidth: i32, channels: i32,
  gradOut: usize, outHeight: i32, outWidth: i32, gradIn: usize,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
): void {
  memory.fill(gradIn, 0, <usize>(inHeight * inWidth * channels) << 2);
  const vecEnd = channels & ~3;
  for (let oy = 0; oy < outHeight; oy++) {
    const y0 = max(oy * sh - padTop, 0);
    const y1 = min(oy * sh - padTop + kh, inHeight);
    for (let ox = 0; ox < outWidth; ox++) {
      const x0 = max(ox * sw - padLeft, 0);
      const x1 = min(ox * sw - padLeft + kw, inWidth);
      const g = gradOut + (<usize>((oy * outWidth + ox) * channels) << 2);
      let c = 0;
      for (; c < vecEnd; c += 4) {
        const cc = <usize>c << 2;
        let best = f32x4.splat(-Infinity);
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            best = f32x4.max(best, v128.load(input + (<usize>((y * inWidth + x) * channels) << 2) + cc));
          }
        }
        const grad = v128.load(g + cc);
        let routed = i32x4.splat(0); // lanes whose gradient has already been given to a cell
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const at = (<usize>((y * inWidth + x) * channels) << 2) + cc;
            const wins = v128.andnot(f32x4.eq(v128.load(input + at), best), routed);
            v128.store(gradIn + at, f32x4.add(v128.load(gradIn + at), v128.and(grad, wins)));
            routed = v128.or(routed, wins);
          }
        }
      }
      for (; c < channels; c++) {
        const cc = <usize>c << 2;
        let bestAt = (<usize>((y0 * inWidth + x0) * channels) << 2) + cc;
        let best = f32.load(input + bestAt);
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const at = (<usize>((y * inWidth + x) * channels) << 2) + cc;
            const v = f32.load(input + at);
            if (v > best) {
              best = v;
              bestAt = at;
            }
          }
        }
        f32.store(gradIn + bestAt, f32.load(gradIn + bestAt) + f32.load(g + cc));
      }
    }
  }
}
