// Activations, channel affine (folded batch-norm), residual add and zero padding, NHWC.
// Activation codes shared by every kernel's epilogue.
export const ACT_NONE: i32 = 0;
export const ACT_RELU: i32 = 1;
export const ACT_LEAKY: i32 = 2; // max(x, alpha * x)
export const ACT_PRELU: i32 = 3; // x > 0 ? x : slope[c] * x

/** Applies the activation to 4 lanes; `slope` is the 4 PReLU slopes of these lanes. */
// @ts-ignore: decorator
@inline
export function activate4(v: v128, act: i32, alpha: f32, slope: v128): v128 {
  if (act == ACT_RELU) return f32x4.max(v, f32x4.splat(0));
  if (act == ACT_LEAKY) return f32x4.max(v, f32x4.mul(v, f32x4.splat(alpha)));
  if (act == ACT_PRELU) {
    const negative = f32x4.lt(v, f32x4.splat(0));
    return v128.bitselect(f32x4.mul(v, slope), v, negative);
  }
  return v;
}

// @ts-ignore: decorator
@inline
export function activate1(v: f32, act: i32, alpha: f32, slope: f32): f32 {
  if (act == ACT_RELU) return v > 0 ? v : 0;
  if (act == ACT_LEAKY) return v > alpha * v ? v : alpha * v;
  if (act == ACT_PRELU) return v < 0 ? v * slope : v;
  return v;
}

/** Loads 4 PReLU slopes starting at channel c (slope arrays are padded to a multiple of 8). */
// @ts-ignore: decorator
@inline
export function slopes4(slope: usize, c: i32): v128 {
  return slope ? v128.load(slope + (<usize>c << 2)) : f32x4.splat(0);
}

/** In place: x[p][c] = act(x[p][c]) for `pixels` pixels of `channels` channels. */
export function activation(x: usize, pixels: i32, channels: i32, act: i32, alpha: f32, slope: usize): void {
  for (let p = 0; p < pixels; p++) {
    const row = x + <usize>(p * channels) * 4;
    let c = 0;
    for (; c + 4 <= channels; c += 4) {
      const at = row + (<usize>c << 2);
      v128.store(at, activate4(v128.load(at), act, alpha, slopes4(slope, c)));
    }
    for (; c < channels; c++) {
      const at = row + (<usize>c << 2);
      f32.store(at, activate1(f32.load(at), act, alpha, slope ? f32.load(slope + (<usize>c << 2)) : 0));
    }
  }
}

/** out[p][c] = act(x[p][c] * scale[c] + shift[c]). */
export function affine(x: usize, out: usize, pixels: i32, channels: i32, scale: usize, shift: usize, act: i32, alpha: f32, slope: usize): void {
  for (let p = 0; p < pixels; p++) {
    const offset = <usize>(p * channels) * 4;
    let c = 0;
    for (; c + 4 <= channels; c += 4) {
      const cc = <usize>c << 2;
      const v = f32x4.add(f32x4.mul(v128.load(x + offset + cc), v128.load(scale + cc)), v128.load(shift + cc));
      v128.store(out + offset + cc, activate4(v, act, alpha, slopes4(slope, c)));
    }
    for (; c < channels; c++) {
      const cc = <usize>c << 2;
      const v = f32.load(x + offset + cc) * f32.load(scale + cc) + f32.load(shift + cc);
      f32.store(out + offset + cc, activate1(v, act, alpha, slope ? f32.load(slope + cc) : 0));
    }
  }
}

/**
 * out = act(a + b) with out shaped like a (h x w x c). b is bh x bw x bc with bh <= h, bw <= w,
 * bc <= c; its missing rows, columns and channels count as zero (zero-padded shortcuts).
 */
export function add(a: usize, h: i32, w: i32, c: i32, b: usize, bh: i32, bw: i32, bc: i32, out: usize, act: i32, alpha: f32, slope: usize): void {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const pa = a + <usize>((y * w + x) * c) * 4;
      const po = out + <usize>((y * w + x) * c) * 4;
      const inB = y < bh && x < bw;
      const pb = b + <usize>((y * bw + x) * bc) * 4;
      const limit = inB ? bc : 0;
      let k = 0;
      for (; k + 4 <= limit; k += 4) {
        const kk = <usize>k << 2;
        v128.store(po + kk, activate4(f32x4.add(v128.load(pa + kk), v128.load(pb + kk)), act, alpha, slopes4(slope, k)));
      }
      for (; k < limit; k++) {
        const kk = <usize>k << 2;
        f32.store(po + kk, activate1(f32.load(pa + kk) + f32.load(pb + kk), act, alpha, slope ? f32.load(slope + kk) : 0));
      }
      for (; k < c; k++) {
        const kk = <usize>k << 2;
        f32.store(po + kk, activate1(f32.load(pa + kk), act, alpha, slope ? f32.load(slope + kk) : 0));
      }
    }
  }
}

/** Copies h x w x c into oh x ow x oc at (top, left), zero everywhere else. */
export function pad(x: usize, h: i32, w: i32, c: i32, out: usize, oh: i32, ow: i32, oc: i32, top: i32, left: i32): void {
  padElements(x, h, w, c, out, oh, ow, oc, top, left, 2);
}

/** pad() for elements of 1 << shift bytes (f32: 2, the i16 codes of quantised models: 1). */
// @ts-ignore: decorator
@inline
export function padElements(x: usize, h: i32, w: i32, c: i32, out: usize, oh: i32, ow: i32, oc: i32, top: i32, left: i32, shift: usize): void {
  memory.fill(out, 0, <usize>(oh * ow * oc) << shift);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      memory.copy(out + (<usize>(((y + top) * ow + xx + left) * oc) << shift), x + (<usize>((y * w + xx) * c) << shift), <usize>c << shift);
    }
  }
}
