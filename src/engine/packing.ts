/**
 * Weight layouts the SIMD kernels read (see assembly/conv.ts, assembly/dense.ts): panels of 8
 * output channels, zero-filled past the last channel. A model packs its weights once when it
 * loads (model.ts); the trainer repacks the master weights after every optimiser step, in the
 * forward orientation and in the transposed one used to propagate gradients to a layer's input.
 */

/**
 * w is [k][cout]; packs the `count` output channels from `offset` (one group of a grouped
 * convolution, or all of them): out[at + (p*k + i)*8 + j] = w[i][offset + p*8 + j]. Lanes past
 * `count` are left untouched.
 */
export function packPanels(w: Float32Array, k: number, cout: number, out: Float32Array, at = 0, offset = 0, count = cout): void {
  for (let p = 0; p * 8 < count; p++) {
    const lanes = Math.min(8, count - p * 8);
    for (let i = 0; i < k; i++) {
      const src = i * cout + offset + p * 8;
      const dst = at + (p * k + i) * 8;
      for (let j = 0; j < lanes; j++) out[dst + j] = w[src + j];
    }
  }
}

/** Elements packPanels writes, padding lanes included. */
export const panelsLength = (k: number, cout: number) => Math.ceil(cout / 8) * 8 * k;

/**
 * The kernel of the input-gradient convolution: w is HWIO [kh][kw][cin][cout]; the result is
 * the kernel rotated by 180 degrees with input and output channels swapped, [kh][kw][cout][cin],
 * packed in panels of 8 of its outputs (the layer's input channels):
 *   out[at + ((p*kh + ky)*kw + kx)*cout*8 + co*8 + j] = w[kh-1-ky][kw-1-kx][p*8 + j][co]
 * A dense [in][out] matrix is the case kh = kw = 1 (its transpose, packed).
 */
export function packTransposedPanels(
  w: Float32Array, kh: number, kw: number, cin: number, cout: number, out: Float32Array, at: number,
): void {
  const k = kh * kw * cout;
  for (let p = 0; p * 8 < cin; p++) {
    const lanes = Math.min(8, cin - p * 8);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const tap = ((kh - 1 - ky) * kw + (kw - 1 - kx)) * cin * cout;
        const dstTap = at + (p * k + (ky * kw + kx) * cout) * 8;
        for (let j = 0; j < lanes; j++) {
          const src = tap + (p * 8 + j) * cout;
          for (let co = 0; co < cout; co++) out[dstTap + co * 8 + j] = w[src + co];
        }
      }
    }
  }
}

/**
 * int8 weights (codes [rows * rowLength][cout], e.g. HWIO conv codes with rows = kh and
 * rowLength = kw*cin, or dense codes with one row) in the layout of the integer kernels
 * (assembly/quantized.ts): panels of 8 output channels, K in pairs, every row padded to an even
 * length; zero past cout and in the padding:
 *   out[((p*rows + r)*pairs + q)*16 + j*2 + t] = codes[(r*rowLength + 2q + t)*cout + p*8 + j]
 */
export function packInt8Panels(codes: Int8Array, rows: number, rowLength: number, cout: number): Int8Array {
  const pairs = Math.ceil(rowLength / 2);
  const out = new Int8Array(Math.ceil(cout / 8) * rows * pairs * 16);
  for (let p = 0; p * 8 < cout; p++) {
    const lanes = Math.min(8, cout - p * 8);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < rowLength; i++) {
        const src = (r * rowLength + i) * cout + p * 8;
        const dst = ((p * rows + r) * pairs + (i >> 1)) * 16 + (i & 1);
        for (let j = 0; j < lanes; j++) out[dst + j * 2] = codes[src + j];
      }
    }
  }
  return out;
}

/**
 * 4-bit dense weights (codes [inputs][cout], -8..7) in the layout of denseInt4: panels of 8
 * output channels, K in pairs, two pairs per 16 bytes, the first in the low nibbles; zero past
 * cout and past K:
 *   out[(p*steps + s)*16 + j*2 + t] = codes[(4s + t)*cout + p*8 + j] & 15 | (codes[(4s + 2 + t)*cout + p*8 + j] & 15) << 4
 */
export function packInt4Panels(codes: Int8Array, inputs: number, cout: number): Uint8Array {
  const steps = Math.ceil(inputs / 4);
  const out = new Uint8Array(Math.ceil(cout / 8) * steps * 16);
  for (let p = 0; p * 8 < cout; p++) {
    const lanes = Math.min(8, cout - p * 8);
    for (let i = 0; i < inputs; i++) {
      const s = i >> 2;
      const shift = i & 2 ? 4 : 0; // inputs 4s, 4s+1: the low nibbles; 4s+2, 4s+3: the high ones
      const dst = (p * steps + s) * 16 + (i & 1);
      for (let j = 0; j < lanes; j++) out[dst + j * 2] |= (codes[i * cout + p * 8 + j] & 15) << shift;
    }
  }
  return out;
}
