// Batch normalisation in training, NHWC flattened to rows x channels: the per-channel batch
// statistics (forward) and the per-channel gradient sums and input gradient (backward). The
// scale and shift themselves are applied by `affine` (activations.ts). Per-channel vectors are
// f64, and sums over the batch are taken in f64: a batch of conv1 outputs sums ~150k values per
// channel.

/** The f32 lanes c..c+3 of a row as two f64x2: [c, c+1] and [c+2, c+3]. */
// @ts-ignore: decorator
@inline
export function low2(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

// @ts-ignore: decorator
@inline
export function high2(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}

/** sum[c] += x[r][c] over the rows (sum: f64, channels values). */
function addRows(x: usize, rows: i32, channels: i32, sum: usize): void {
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>(r * channels) * 4;
    let c = 0;
    for (; c + 4 <= channels; c += 4) {
      const v = v128.load(row + (<usize>c << 2));
      const s = sum + (<usize>c << 3);
      v128.store(s, f64x2.add(v128.load(s), low2(v)));
      v128.store(s + 16, f64x2.add(v128.load(s + 16), high2(v)));
    }
    for (; c < channels; c++) {
      const s = sum + (<usize>c << 3);
      f64.store(s, f64.load(s) + <f64>f32.load(row + (<usize>c << 2)));
    }
  }
}

/**
 * mean[c] and inverseStd[c] = 1 / sqrt(variance[c] + epsilon) of x over its rows (biased
 * variance, as normalisation uses), in two passes: the mean, then the squared deviations.
 */
export function batchNormStatistics(x: usize, rows: i32, channels: i32, mean: usize, inverseStd: usize, epsilon: f64): void {
  memory.fill(mean, 0, <usize>channels << 3);
  memory.fill(inverseStd, 0, <usize>channels << 3);
  addRows(x, rows, channels, mean);
  for (let c = 0; c < channels; c++) {
    const m = mean + (<usize>c << 3);
    f64.store(m, f64.load(m) / <f64>rows);
  }
  // squared deviations, accumulated in inverseStd
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>(r * channels) * 4;
    let c = 0;
    for (; c + 4 <= channels; c += 4) {
      const v = v128.load(row + (<usize>c << 2));
      const m = mean + (<usize>c << 3);
      const s = inverseStd + (<usize>c << 3);
      const d0 = f64x2.sub(low2(v), v128.load(m));
      const d1 = f64x2.sub(high2(v), v128.load(m + 16));
      v128.store(s, f64x2.add(v128.load(s), f64x2.mul(d0, d0)));
      v128.store(s + 16, f64x2.add(v128.load(s + 16), f64x2.mul(d1, d1)));
    }
    for (; c < channels; c++) {
      const d = <f64>f32.load(row + (<usize>c << 2)) - f64.load(mean + (<usize>c << 3));
      const s = inverseStd + (<usize>c << 3);
      f64.store(s, f64.load(s) + d * d);
    }
  }
  for (let c = 0; c < channels; c++) {
    const s = inverseStd + (<usize>c << 3);
    f64.store(s, 1 / Math.sqrt(f64.load(s) / <f64>rows + epsilon));
  }
}
