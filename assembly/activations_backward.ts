// Backward passes of the activations: ReLU from its output, PReLU from its input.

/** In place: grad[i] = output[i] > 0 ? grad[i] : 0, for `count` floats. */
export function reluBackward(grad: usize, output: usize, count: i32): void {
  const zero = f32x4.splat(0);
  const vecEnd = count & ~3;
  let i = 0;
  for (; i < vecEnd; i += 4) {
    const at = <usize>i << 2;
    v128.store(grad + at, v128.and(v128.load(grad + at), f32x4.gt(v128.load(output + at), zero)));
  }
  for (; i < count; i++) {
    const at = <usize>i << 2;
    if (!(f32.load(output + at) > 0)) f32.store(grad + at, 0);
  }
}

/** Rows per block of preluBackward: a block of rows x channels stays in L1 while its channels are swept. */
const PRELU_ROW_BLOCK = 32;

/**
 * Backward pass of PReLU (y = x < 0 ? slope[c] * x : x) over rows x channels, from its input x:
 * gradSlope[c] += sum of grad * x where x < 0, then in place grad *= x < 0 ? slope[c] : 1.
 * slope is padded to a multiple of 8 channels like every epilogue's; gradSlope is not padded.
 * Rows go in blocks so that the tensor is read from memory once (a sweep of all rows per group of
 * 4 channels would read a tensor larger than the cache once per cache line of channels).
 */
export function preluBackward(grad: usize, x: usize, rows: i32, channels: i32, slope: usize, gradSlope: usize): void {
  const zero = f32x4.splat(0);
  const rowBytes = <usize>channels << 2;
  for (let first = 0; first < rows; first += PRELU_ROW_BLOCK) {
    const last = min(first + PRELU_ROW_BLOCK, rows);
    let c = 0;
    for (; c + 4 <= channels; c += 4) {
      const cc = <usize>c << 2;
      const s = v128.load(slope + cc);
      let sum = zero;
      for (let r = first; r < last; r++) {
        const at = <usize>r * rowBytes + cc;
        const g = v128.load(grad + at);
        const v = v128.load(x + at);
        const negative = f32x4.lt(v, zero);
        sum = f32x4.add(sum, v128.and(f32x4.mul(g, v), negative));
        v128.store(grad + at, v128.bitselect(f32x4.mul(g, s), g, negative));
      }
      v128.store(gradSlope + cc, f32x4.add(v128.load(gradSlope + cc), sum));
    }
    for (; c < channels; c++) {
      const cc = <usize>c << 2;
      const s = f32.load(slope + cc);
      let sum: f32 = 0;
      for (let r = first; r < last; r++) {
        const at = <usize>r * rowBytes + cc;
        const v = f32.load(x + at);
        if (v < 0) {
          const g = f32.load(grad + at);
          sum += g * v;
          f32.store(grad + at, g * s);
        }
      }
      f32.store(gradSlope + cc, f32.load(gradSlope + cc) + sum);
    }
  }
}
