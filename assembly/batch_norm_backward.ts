// Backward pass of batch normalisation in training (rows x channels, per-channel vectors f64):
// the sums its gradients need, and the gradient of its input.
import { high2, low2 } from './batch_norm';

/** sumG[c] = sum over rows of g[r][c]; sumGz[c] = sum of g[r][c] * z[r][c] (both f64, overwritten). */
export function batchNormGradientSums(g: usize, z: usize, rows: i32, channels: i32, sumG: usize, sumGz: usize): void {
  memory.fill(sumG, 0, <usize>channels << 3);
  memory.fill(sumGz, 0, <usize>channels << 3);
  for (let r = 0; r < rows; r++) {
    const offset = <usize>(r * channels) * 4;
    let c = 0;
    for (; c + 4 <= channels; c += 4) {
      const gv = v128.load(g + offset + (<usize>c << 2));
      const zv = v128.load(z + offset + (<usize>c << 2));
      const g0 = low2(gv);
      const g1 = high2(gv);
      const z0 = low2(zv);
      const z1 = high2(zv);
      const s = sumG + (<usize>c << 3);
      const t = sumGz + (<usize>c << 3);
      v128.store(s, f64x2.add(v128.load(s), g0));
      v128.store(s + 16, f64x2.add(v128.load(s + 16), g1));
      v128.store(t, f64x2.add(v128.load(t), f64x2.mul(g0, z0)));
      v128.store(t + 16, f64x2.add(v128.load(t + 16), f64x2.mul(g1, z1)));
    }
    for (; c < channels; c++) {
      const gc = <f64>f32.load(g + offset + (<usize>c << 2));
      const s = sumG + (<usize>c << 3);
      const t = sumGz + (<usize>c << 3);
      f64.store(s, f64.load(s) + gc);
      f64.store(t, f64.load(t) + gc * <f64>f32.load(z + offset + (<usize>c << 2)));
    }
  }
}

/** In place: g[r][c] = a[c] * g[r][c] + b[c] * z[r][c] + d[c] (a, b, d: f32, the input gradient's per-channel terms). */
export function batchNormInputGradient(g: usize, z: usize, rows: i32, channels: i32, a: usize, b: usize, d: usize): void {
  for (let r = 0; r < rows; r++) {
    const offset = <usize>(r * channels) * 4;
    let c = 0;
    for (; c + 4 <= channels; c += 4) {
      const cc = <usize>c << 2;
      const at = g + offset + cc;
      const v = f32x4.add(f32x4.add(f32x4.mul(v128.load(a + cc), v128.load(at)), f32x4.mul(v128.load(b + cc), v128.load(z + offset + cc))), v128.load(d + cc));
      v128.store(at, v);
    }
    for (; c < channels; c++) {
      const cc = <usize>c << 2;
      const at = g + offset + cc;
      f32.store(at, f32.load(a + cc) * f32.load(at) + f32.load(b + cc) * f32.load(z + offset + cc) + f32.load(d + cc));
    }
  }
}
