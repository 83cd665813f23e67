// Integer kernels for quantised models. Activations are 8-bit codes held in i16 lanes (value =
// code * tensor scale; unsigned 0..255 after ReLU, signed -127..127 otherwise), weights are int8
// with one scale per output channel. Products are summed in i32 with i32x4.dot_i16x8_s, which
// multiplies 8 i16 pairs and adds neighbours: each output lane gets two K steps per instruction.
//
// Weights are packed by the engine in panels of 8 output channels, K taken in pairs:
//   packed[ceil(cout/8)][pairs][8][2]  int8   (16 bytes per pair; zero past cout and past K)
// conv2dInt8Wide reads the same panels held as i16 (32 bytes per pair): no widening in the inner
// loop, at twice the weight bytes (the engine uses it where each weight meets many pixels).
// For a convolution K runs over [ky][kx*cin], each kernel row padded to an even length; the
// pair that sticks out of an odd row reads one code past the row, which meets a zero weight.
//
// Epilogue (requantisation): acc (i32) -> f32 * multiplier[c] -> activation -> round to nearest
// -> clamp to the output's code range [lo, hi]. With lo = 0 the clamp is the ReLU. With
// floatOut the scaled value is stored as f32 instead (the dequantised graph output).
import { activate1, activate4, padElements, slopes4 } from './activations';

const TAIL: usize = memory.data(32, 16);

/** Requantises 8 channels (two i32x4 accumulators) and stores them, or only the first `n`. */
// @ts-ignore: decorator
@inline
function epilogue8(
  at: usize, lo32: v128, hi32: v128, n: i32, m0: v128, m1: v128,
  act: i32, alpha: f32, s0: v128, s1: v128, low: v128, high: v128, floatOut: bool,
): void {
  const f0 = activate4(f32x4.mul(f32x4.convert_i32x4_s(lo32), m0), act, alpha, s0);
  const f1 = activate4(f32x4.mul(f32x4.convert_i32x4_s(hi32), m1), act, alpha, s1);
  if (floatOut) {
    if (n >= 8) {
      v128.store(at, f0);
      v128.store(at, f1, 16);
      return;
    }
    v128.store(TAIL, f0);
    v128.store(TAIL, f1, 16);
    memory.copy(at, TAIL, <usize>n << 2);
    return;
  }
  const q0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f0));
  const q1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f1));
  const codes = i16x8.min_s(i16x8.max_s(i16x8.narrow_i32x4_s(q0, q1), low), high);
  if (n >= 8) {
    v128.store(at, codes);
    return;
  }
  v128.store(TAIL, codes);
  memory.copy(at, TAIL, <usize>n << 1);
}

/**
 * out[oy][ox][co] = requant(bias[co] + sum_{ky,kx,ci} in[oy*sh+ky][ox*sw+kx][ci] * w[ky][kx][ci][co])
 * Input: i16 codes, NHWC with cin channels, already zero-padded. Output: i16 codes (or f32 with
 * floatOut), NHWC with cout channels. bias: i32 in accumulator units; multiplier, slope: f32;
 * all three padded to a multiple of 8 channels.
 */
export function conv2dInt8(
  input: usize, inWidth: i32, cin: i32,
  output: usize, outHeight: i32, outWidth: i32, cout: i32,
  packed: usize, bias: usize, multiplier: usize, kh: i32, kw: i32, sh: i32, sw: i32,
  act: i32, alpha: f32, slope: usize, lo: i32, hi: i32, floatOut: bool,
): void {
  convInteger(input, inWidth, cin, output, outHeight, outWidth, cout, packed, bias, multiplier, kh, kw, sh, sw, act, alpha, slope, lo, hi, floatOut, false);
}

/** conv2dInt8 on weight panels held as i16. */
export function conv2dInt8Wide(
  input: usize, inWidth: i32, cin: i32,
  output: usize, outHeight: i32, outWidth: i32, cout: i32,
  packed: usize, bias: usize, multiplier: usize, kh: i32, kw: i32, sh: i32, sw: i32,
  act: i32, alpha: f32, slope: usize, lo: i32, hi: i32, floatOut: bool,
): void {
  convInteger(input, inWidth, cin, output, outHeight, outWidth, cout, packed, bias, multiplier, kh, kw, sh, sw, act, alpha, slope, lo, hi, floatOut, true);
}

/** 8 channels' weights of one K pair, widened to i16: the two halves. */
// @ts-ignore: decorator
@inline
function pairLow(w: usize, wide: bool): v128 {
  return wide ? v128.load(w) : i16x8.extend_low_i8x16_s(v128.load(w));
}

// @ts-ignore: decorator
@inline
function pairHigh(w: usize, wide: bool): v128 {
  return wide ? v128.load(w, 16) : i16x8.extend_high_i8x16_s(v128.load(w));
}

/** The body of conv2dInt8 and conv2dInt8Wide (`wide`: i16 panels). */
// @ts-ignore: decorator
@inline
function convInteger(
  input: usize, inWidth: i32, cin: i32,
  output: usize, outHeight: i32, outWidth: i32, cout: i32,
  packed: usize, bias: usize, multiplier: usize, kh: i32, kw: i32, sh: i32, sw: i32,
  act: i32, alpha: f32, slope: usize, lo: i32, hi: i32, floatOut: bool, wide: bool,
): void {
  const pairs = (kw * cin + 1) >> 1; // per kernel row
  const pairBytes: usize = wide ? 32 : 16;
  const panelBytes = <usize>(kh * pairs) * pairBytes;
  const pixelStep = <usize>(sw * cin) << 1;
  const rowBytes = <usize>(inWidth * cin) << 1;
  const outShift: usize = floatOut ? 2 : 1;
  const outPixel = <usize>cout << outShift;
  const low = i16x8.splat(<i16>lo);
  const high = i16x8.splat(<i16>hi);
  for (let cb = 0; cb < cout; cb += 8) {
    const panel = packed + <usize>(cb >> 3) * panelBytes;
    const b0 = v128.load(bias + (<usize>cb << 2));
    const b1 = v128.load(bias + (<usize>cb << 2), 16);
    const m0 = v128.load(multiplier + (<usize>cb << 2));
    const m1 = v128.load(multiplier + (<usize>cb << 2), 16);
    const s0 = slopes4(slope, cb);
    const s1 = slopes4(slope, cb + 4);
    const n = cout - cb;
    const channelOffset = <usize>cb << outShift;
    for (let oy = 0; oy < outHeight; oy++) {
      const inRow = input + <usize>(oy * sh) * rowBytes;
      const outRow = output + <usize>(oy * outWidth) * outPixel + channelOffset;
      let ox = 0;
      for (; ox + 4 <= outWidth; ox += 4) {
        let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
        let w = panel;
        const origin = inRow + <usize>ox * pixelStep;
        for (let ky = 0; ky < kh; ky++) {
          let p = origin + <usize>ky * rowBytes;
          const end = p + (<usize>pairs << 2);
          for (; p < end; p += 4) {
            const w0 = pairLow(w, wide);
            const w1 = pairHigh(w, wide);
            w += pairBytes;
            const x0 = v128.load32_splat(p);
            const x1 = v128.load32_splat(p + pixelStep);
            const x2 = v128.load32_splat(p + 2 * pixelStep);
            const x3 = v128.load32_splat(p + 3 * pixelStep);
            a00 = i32x4.add(a00, i32x4.dot_i16x8_s(x0, w0));
            a01 = i32x4.add(a01, i32x4.dot_i16x8_s(x0, w1));
            a10 = i32x4.add(a10, i32x4.dot_i16x8_s(x1, w0));
            a11 = i32x4.add(a11, i32x4.dot_i16x8_s(x1, w1));
            a20 = i32x4.add(a20, i32x4.dot_i16x8_s(x2, w0));
            a21 = i32x4.add(a21, i32x4.dot_i16x8_s(x2, w1));
            a30 = i32x4.add(a30, i32x4.dot_i16x8_s(x3, w0));
            a31 = i32x4.add(a31, i32x4.dot_i16x8_s(x3, w1));
          }
        }
        const o = outRow + <usize>ox * outPixel;
        epilogue8(o, a00, a01, n, m0, m1, act, alpha, s0, s1, low, high, floatOut);
        epilogue8(o + outPixel, a10, a11, n, m0, m1, act, alpha, s0, s1, low, high, floatOut);
        epilogue8(o + 2 * outPixel, a20, a21, n, m0, m1, act, alpha, s0, s1, low, high, floatOut);
        epilogue8(o + 3 * outPixel, a30, a31, n, m0, m1, act, alpha, s0, s1, low, high, floatOut);
      }
      for (; ox < outWidth; ox++) {
        let a0 = b0, a1 = b1;
        let w = panel;
        const origin = inRow + <usize>ox * pixelStep;
        for (let ky = 0; ky < kh; ky++) {
          let p = origin + <usize>ky * rowBytes;
          const end = p + (<usize>pairs << 2);
          for (; p < end; p += 4) {
            const x0 = v128.load32_splat(p);
            a0 = i32x4.add(a0, i32x4.dot_i16x8_s(x0, pairLow(w, wide)));
            a1 = i32x4.add(a1, i32x4.dot_i16x8_s(x0, pairHigh(w, wide)));
            w += pairBytes;
          }
        }
        epilogue8(outRow + <usize>ox * outPixel, a0, a1, n, m0, m1, act, alpha, s0, s1, low, high, floatOut);
      }
    }
  }
}

/**
 * Depthwise: out[oy][ox][c] = requant(bias[c] + sum_{ky,kx} in[oy*sh+ky][ox*sw+kx][c] * w[ky][kx][c])
 * Input: i16 codes, NHWC, already zero-padded. Weights: i16 codes [kh][kw][c] with c padded to a
 * multiple of 8 (zero there), so 8 channels take one load of inputs and one of weights; with a
 * ragged channel count the last load reads codes of the next pixel, which meet those zero weights
 * (the engine leaves room past every buffer for it). bias, multiplier, slope as conv2dInt8's.
 */
export function depthwiseConv2dInt8(
  input: usize, inWidth: i32, channels: i32,
  output: usize, outHeight: i32, outWidth: i32,
  weights: usize, bias: usize, multiplier: usize, kh: i32, kw: i32, sh: i32, sw: i32,
  act: i32, alpha: f32, slope: usize, lo: i32, hi: i32, floatOut: bool,
): void {
  const pixelBytes = <usize>channels << 1;
  const tapBytes = <usize>((channels + 7) & ~7) << 1;
  const outShift: usize = floatOut ? 2 : 1;
  const outPixel = <usize>channels << outShift;
  const low = i16x8.splat(<i16>lo);
  const high = i16x8.splat(<i16>hi);
  for (let cb = 0; cb < channels; cb += 8) {
    const cc = <usize>cb << 1;
    const b0 = v128.load(bias + (<usize>cb << 2));
    const b1 = v128.load(bias + (<usize>cb << 2), 16);
    const m0 = v128.load(multiplier + (<usize>cb << 2));
    const m1 = v128.load(multiplier + (<usize>cb << 2), 16);
    const s0 = slopes4(slope, cb);
    const s1 = slopes4(slope, cb + 4);
    const n = channels - cb;
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const origin = input + <usize>(oy * sh * inWidth + ox * sw) * pixelBytes + cc;
        let a0 = b0, a1 = b1;
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            const x = v128.load(origin + <usize>(ky * inWidth + kx) * pixelBytes);
            const w = v128.load(weights + <usize>(ky * kw + kx) * tapBytes + cc);
            a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(x, w));
            a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(x, w));
          }
        }
        epilogue8(output + <usize>(oy * outWidth + ox) * outPixel + (<usize>cb << outShift), a0, a1, n, m0, m1, act, alpha, s0, s1, low, high, floatOut);
      }
    }
  }
}

/**
 * Residual add on codes: out[i] = clamp(round(act(a[i] * ma + b[i] * mb))), ma and mb each input's
 * scale over the output's (f32), for `count` codes (tensors of equal shape). act: none, ReLU or
 * leaky (no per-channel slopes here).
 */
export function addInt16(a: usize, b: usize, out: usize, count: i32, ma: f32, mb: f32, act: i32, alpha: f32, lo: i32, hi: i32): void {
  const va = f32x4.splat(ma);
  const vb = f32x4.splat(mb);
  const zero = f32x4.splat(0);
  const low = i16x8.splat(<i16>lo);
  const high = i16x8.splat(<i16>hi);
  let i = 0;
  for (; i + 8 <= count; i += 8) {
    const at = <usize>i << 1;
    const x = v128.load(a + at);
    const y = v128.load(b + at);
    const f0 = activate4(f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(x)), va), f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(y)), vb)), act, alpha, zero);
    const f1 = activate4(f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(x)), va), f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(y)), vb)), act, alpha, zero);
    const q0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f0));
    const q1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f1));
    v128.store(out + at, i16x8.min_s(i16x8.max_s(i16x8.narrow_i32x4_s(q0, q1), low), high));
  }
  for (; i < count; i++) {
    const at = <usize>i << 1;
    const v = activate1(<f32>load<i16>(a + at) * ma + <f32>load<i16>(b + at) * mb, act, alpha, 0);
    const q = <i32>min<f32>(max<f32>(nearest<f32>(v), -32768), 32767);
    store<i16>(out + at, <i16>min(max(q, lo), hi));
  }
}

/**
 * Fully connected: out[b][u] = requant(bias[u] + sum_k x[b][k] * w[k][u]), x as i16 codes with
 * rows `inputs` codes apart; four batch rows share every weight load. Weights: int8 panels as
 * above.
 */
export function denseInt8(
  input: usize, batch: i32, inputs: i32,
  output: usize, units: i32,
  packed: usize, bias: usize, multiplier: usize,
  act: i32, alpha: f32, slope: usize, lo: i32, hi: i32, floatOut: bool,
): void {
  denseInteger(input, batch, inputs, output, units, packed, bias, multiplier, act, alpha, slope, lo, hi, floatOut, false);
}

/**
 * denseInt8 with 4-bit weights (codes -8..7), half the bytes to read. Panels of 8 output
 * channels, K pairs taken two at a time, 16 bytes per two pairs:
 *   packed[ceil(units/8)][ceil(pairs/2)][8][2]  byte = first pair's code | second pair's code << 4
 * (zero past units and past K).
 */
export function denseInt4(
  input: usize, batch: i32, inputs: i32,
  output: usize, units: i32,
  packed: usize, bias: usize, multiplier: usize,
  act: i32, alpha: f32, slope: usize, lo: i32, hi: i32, floatOut: bool,
): void {
  denseInteger(input, batch, inputs, output, units, packed, bias, multiplier, act, alpha, slope, lo, hi, floatOut, true);
}

/** Low nibbles of 8 bytes widened to i16 with their sign: moved to the top of the lane and back. */
// @ts-ignore: decorator
@inline
function lowNibbles(bytes16: v128): v128 {
  return i16x8.shr_s(i16x8.shl(bytes16, 12), 12);
}

/** High nibbles of 8 bytes widened to i16: the byte's sign extension already carries their sign. */
// @ts-ignore: decorator
@inline
function highNibbles(bytes16: v128): v128 {
  return i16x8.shr_s(bytes16, 4);
}

/**
 * Two K pairs of 8 channels' weights widened to i16, as the dense kernels read them: from one
 * 16-byte load of 4-bit weights (`nibbles`: the first pair in the low nibbles), or from two
 * 16-byte loads of int8 weights (wv, wu). Low / high: channels 0-3 / 4-7 of the panel.
 */
// @ts-ignore: decorator
@inline
function firstPairLow(wv: v128, nibbles: bool): v128 {
  const l = i16x8.extend_low_i8x16_s(wv);
  return nibbles ? lowNibbles(l) : l;
}

// @ts-ignore: decorator
@inline
function firstPairHigh(wv: v128, nibbles: bool): v128 {
  const h = i16x8.extend_high_i8x16_s(wv);
  return nibbles ? lowNibbles(h) : h;
}

// @ts-ignore: decorator
@inline
function secondPairLow(wv: v128, wu: v128, nibbles: bool): v128 {
  return nibbles ? highNibbles(i16x8.extend_low_i8x16_s(wv)) : i16x8.extend_low_i8x16_s(wu);
}

// @ts-ignore: decorator
@inline
function secondPairHigh(wv: v128, wu: v128, nibbles: bool): v128 {
  return nibbles ? highNibbles(i16x8.extend_high_i8x16_s(wv)) : i16x8.extend_high_i8x16_s(wu);
}

/**
 * The body of denseInt8 and denseInt4 (`nibbles`: 4-bit weights). Each step of the inner loops
 * takes two K pairs: from two 16-byte loads of int8 weights, or from one of 4-bit weights.
 */
// @ts-ignore: decorator
@inline
function denseInteger(
  input: usize, batch: i32, inputs: i32,
  output: usize, units: i32,
  packed: usize, bias: usize, multiplier: usize,
  act: i32, alpha: f32, slope: usize, lo: i32, hi: i32, floatOut: bool, nibbles: bool,
): void {
  const pairs = (inputs + 1) >> 1;
  const panelBytes: usize = nibbles ? <usize>((pairs + 1) >> 1) << 4 : <usize>pairs << 4;
  const stepBytes: usize = nibbles ? 16 : 32; // weight bytes per two pairs
  const rowBytes = <usize>inputs << 1;
  const outShift: usize = floatOut ? 2 : 1;
  const outRowBytes = <usize>units << outShift;
  const low = i16x8.splat(<i16>lo);
  const high = i16x8.splat(<i16>hi);
  for (let nb = 0; nb < units; nb += 8) {
    const panel = packed + <usize>(nb >> 3) * panelBytes;
    const b0 = v128.load(bias + (<usize>nb << 2));
    const b1 = v128.load(bias + (<usize>nb << 2), 16);
    const m0 = v128.load(multiplier + (<usize>nb << 2));
    const m1 = v128.load(multiplier + (<usize>nb << 2), 16);
    const s0 = slopes4(slope, nb);
    const s1 = slopes4(slope, nb + 4);
    const n = units - nb;
    const channelOffset = <usize>nb << outShift;
    let b = 0;
    for (; b + 4 <= batch; b += 4) {
      let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
      const x = input + <usize>b * rowBytes;
      const end = x + (<usize>pairs << 2);
      let w = panel;
      let p = x;
      for (; p + 8 <= end; p += 8) {
        // this pair's 8 channels (two halves), then the next pair's
        const wv = v128.load(w);
        const wu = nibbles ? wv : v128.load(w, 16);
        const w0 = firstPairLow(wv, nibbles);
        const w1 = firstPairHigh(wv, nibbles);
        const u0 = secondPairLow(wv, wu, nibbles);
        const u1 = secondPairHigh(wv, wu, nibbles);
        w += stepBytes;
        let xv = v128.load32_splat(p);
        let xu = v128.load32_splat(p, 4);
        a00 = i32x4.add(a00, i32x4.add(i32x4.dot_i16x8_s(xv, w0), i32x4.dot_i16x8_s(xu, u0)));
        a01 = i32x4.add(a01, i32x4.add(i32x4.dot_i16x8_s(xv, w1), i32x4.dot_i16x8_s(xu, u1)));
        xv = v128.load32_splat(p + rowBytes);
        xu = v128.load32_splat(p + rowBytes, 4);
        a10 = i32x4.add(a10, i32x4.add(i32x4.dot_i16x8_s(xv, w0), i32x4.dot_i16x8_s(xu, u0)));
        a11 = i32x4.add(a11, i32x4.add(i32x4.dot_i16x8_s(xv, w1), i32x4.dot_i16x8_s(xu, u1)));
        xv = v128.load32_splat(p + 2 * rowBytes);
        xu = v128.load32_splat(p + 2 * rowBytes, 4);
        a20 = i32x4.add(a20, i32x4.add(i32x4.dot_i16x8_s(xv, w0), i32x4.dot_i16x8_s(xu, u0)));
        a21 = i32x4.add(a21, i32x4.add(i32x4.dot_i16x8_s(xv, w1), i32x4.dot_i16x8_s(xu, u1)));
        xv = v128.load32_splat(p + 3 * rowBytes);
        xu = v128.load32_splat(p + 3 * rowBytes, 4);
        a30 = i32x4.add(a30, i32x4.add(i32x4.dot_i16x8_s(xv, w0), i32x4.dot_i16x8_s(xu, u0)));
        a31 = i32x4.add(a31, i32x4.add(i32x4.dot_i16x8_s(xv, w1), i32x4.dot_i16x8_s(xu, u1)));
      }
      if (p < end) {
        // an odd number of pairs: the last one alone
        const wv = v128.load(w);
        const w0 = firstPairLow(wv, nibbles);
        const w1 = firstPairHigh(wv, nibbles);
        let xv = v128.load32_splat(p);
        a00 = i32x4.add(a00, i32x4.dot_i16x8_s(xv, w0));
        a01 = i32x4.add(a01, i32x4.dot_i16x8_s(xv, w1));
        xv = v128.load32_splat(p + rowBytes);
        a10 = i32x4.add(a10, i32x4.dot_i16x8_s(xv, w0));
        a11 = i32x4.add(a11, i32x4.dot_i16x8_s(xv, w1));
        xv = v128.load32_splat(p + 2 * rowBytes);
        a20 = i32x4.add(a20, i32x4.dot_i16x8_s(xv, w0));
        a21 = i32x4.add(a21, i32x4.dot_i16x8_s(xv, w1));
        xv = v128.load32_splat(p + 3 * rowBytes);
        a30 = i32x4.add(a30, i32x4.dot_i16x8_s(xv, w0));
        a31 = i32x4.add(a31, i32x4.dot_i16x8_s(xv, w1));
      }
      const o = output + <usize>b * outRowBytes + channelOffset;
      epilogue8(o, a00, a01, n, m0, m1, act, alpha, s0, s1, low, high, floatOut);
      epilogue8(o + outRowBytes, a10, a11, n, m0, m1, act, alpha, s0, s1, low, high, floatOut);
      epilogue8(o + 2 * outRowBytes, a20, a21, n, m0, m1, act, alpha, s0, s1, low, high, floatOut);
      epilogue8(o + 3 * outRowBytes, a30, a31, n, m0, m1, act, alpha, s0, s1, low, high, floatOut);
    }
    for (; b < batch; b++) {
      // two accumulator pairs, so consecutive dot products do not wait on each other's add
      let a0 = b0, a1 = b1;
      let c0 = i32x4.splat(0), c1 = i32x4.splat(0);
      const x = input + <usize>b * rowBytes;
      const end = x + (<usize>pairs << 2);
      let w = panel;
      let p = x;
      for (; p + 8 <= end; p += 8) {
        const wv = v128.load(w);
        const wu = nibbles ? wv : v128.load(w, 16);
        const w0 = firstPairLow(wv, nibbles);
        const w1 = firstPairHigh(wv, nibbles);
        const u0 = secondPairLow(wv, wu, nibbles);
        const u1 = secondPairHigh(wv, wu, nibbles);
        w += stepBytes;
        const xv = v128.load32_splat(p);
        const xu = v128.load32_splat(p, 4);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(xv, w0));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(xv, w1));
        c0 = i32x4.add(c0, i32x4.dot_i16x8_s(xu, u0));
        c1 = i32x4.add(c1, i32x4.dot_i16x8_s(xu, u1));
      }
      if (p < end) {
        const wv = v128.load(w);
        const xv = v128.load32_splat(p);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(xv, firstPairLow(wv, nibbles)));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(xv, firstPairHigh(wv, nibbles)));
      }
      const o = output + <usize>b * outRowBytes + channelOffset;
      epilogue8(o, i32x4.add(a0, c0), i32x4.add(a1, c1), n, m0, m1, act, alpha, s0, s1, low, high, floatOut);
    }
  }
}

/**
 * The graph input's f32 values (count from `at`) to i16 codes in place: round(v * inverse) half
 * to even, clamped to [lo, hi]. The codes land at half the offset of their values, never on a
 * value still to be read. Returns -1, or the index of the first NaN or infinite value (the codes
 * are then not to be used).
 */
export function quantizeInput(at: usize, count: i32, inverse: f32, lo: i32, hi: i32): i32 {
  const scale = f32x4.splat(inverse);
  const low = i16x8.splat(<i16>lo);
  const high = i16x8.splat(<i16>hi);
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= count; i += 8) {
    const from = at + (<usize>i << 2);
    const v0 = v128.load(from);
    const v1 = v128.load(from, 16);
    // v - v is 0 for a finite v and NaN for NaN and +-Infinity
    if (!i32x4.all_true(v128.and(f32x4.eq(f32x4.sub(v0, v0), zero), f32x4.eq(f32x4.sub(v1, v1), zero)))) break;
    const q0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v0, scale)));
    const q1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v1, scale)));
    v128.store(at + (<usize>i << 1), i16x8.min_s(i16x8.max_s(i16x8.narrow_i32x4_s(q0, q1), low), high));
  }
  for (; i < count; i++) {
    const v = load<f32>(at + (<usize>i << 2));
    if (!isFinite(v)) return i;
    store<i16>(at + (<usize>i << 1), <i16><i32>min(<f32>hi, max(<f32>lo, nearest(v * inverse))));
  }
  return -1;
}

/** Max pooling on i16 codes, NHWC, 8 channels per vector; padded cells never win (TF 'SAME'). */
export function maxPoolInt16(
  input: usize, inHeight: i32, inWidth: i32, channels: i32,
  output: usize, outHeight: i32, outWidth: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, padTop: i32, padLeft: i32,
): void {
  const vecEnd = channels & ~7;
  for (let oy = 0; oy < outHeight; oy++) {
    const y0 = max(oy * sh - padTop, 0);
    const y1 = min(oy * sh - padTop + kh, inHeight);
    for (let ox = 0; ox < outWidth; ox++) {
      const x0 = max(ox * sw - padLeft, 0);
      const x1 = min(ox * sw - padLeft + kw, inWidth);
      const o = output + (<usize>((oy * outWidth + ox) * channels) << 1);
      let c = 0;
      for (; c < vecEnd; c += 8) {
        const cc = <usize>c << 1;
        let acc = i16x8.splat(-32768);
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            acc = i16x8.max_s(acc, v128.load(input + (<usize>((y * inWidth + x) * channels) << 1) + cc));
          }
        }
        v128.store(o + cc, acc);
      }
      for (; c < channels; c++) {
        const cc = <usize>c << 1;
        let acc: i32 = -32768;
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            acc = max(acc, <i32>load<i16>(input + (<usize>((y * inWidth + x) * channels) << 1) + cc));
          }
        }
        store<i16>(o + cc, <i16>acc);
      }
    }
  }
}

/** pad() for i16 codes: h x w x c into oh x ow x oc at (top, left), zero (code 0 = value 0) elsewhere. */
export function padInt16(x: usize, h: i32, w: i32, c: i32, out: usize, oh: i32, ow: i32, oc: i32, top: i32, left: i32): void {
  padElements(x, h, w, c, out, oh, ow, oc, top, left, 1);
}
