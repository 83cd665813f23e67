// Fully connected layer: out[b][n] = act(bias[n] + sum_k x[b][k] * w[k][n]).
// Weights are packed by the engine into panels of 8 outputs: packed[ceil(units/8)][in][8],
// so each panel streams linearly. Four batch rows share each weight load (4x8 register tile);
// a single row (batch 1) uses two accumulator pairs to hide add latency.
import { activate4, slopes4 } from './activations';
import { store8, storeTile } from './conv';

export function dense(
  input: usize, batch: i32, inputs: i32,
  output: usize, units: i32,
  packed: usize, bias: usize, act: i32, alpha: f32, slope: usize,
): void {
  const rowBytes = <usize>inputs << 2;
  const outBytes = <usize>units << 2;
  for (let nb = 0; nb < units; nb += 8) {
    const panel = packed + <usize>(nb * inputs) * 4;
    const b0 = v128.load(bias + (<usize>nb << 2));
    const b1 = v128.load(bias + (<usize>nb << 2), 16);
    const s0 = slopes4(slope, nb);
    const s1 = slopes4(slope, nb + 4);
    const n = units - nb;
    let b = 0;
    for (; b + 4 <= batch; b += 4) {
      let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
      const x = input + <usize>b * rowBytes;
      let w = panel;
      for (let k: usize = 0; k < rowBytes; k += 4) {
        const w0 = v128.load(w);
        const w1 = v128.load(w, 16);
        w += 32;
        const x0 = v128.load32_splat(x + k);
        const x1 = v128.load32_splat(x + rowBytes + k);
        const x2 = v128.load32_splat(x + 2 * rowBytes + k);
        const x3 = v128.load32_splat(x + 3 * rowBytes + k);
        a00 = f32x4.add(a00, f32x4.mul(x0, w0));
        a01 = f32x4.add(a01, f32x4.mul(x0, w1));
        a10 = f32x4.add(a10, f32x4.mul(x1, w0));
        a11 = f32x4.add(a11, f32x4.mul(x1, w1));
        a20 = f32x4.add(a20, f32x4.mul(x2, w0));
        a21 = f32x4.add(a21, f32x4.mul(x2, w1));
        a30 = f32x4.add(a30, f32x4.mul(x3, w0));
        a31 = f32x4.add(a31, f32x4.mul(x3, w1));
      }
      const o = output + <usize>b * outBytes + (<usize>nb << 2);
      storeTile(o, outBytes, n, act, alpha, s0, s1, a00, a01, a10, a11, a20, a21, a30, a31);
    }
    for (; b < batch; b++) {
      let a0 = b0, a1 = b1;
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
      const x = input + <usize>b * rowBytes;
      let w = panel;
      let k: usize = 0;
      for (; k + 8 <= rowBytes; k += 8) {
        const x0 = v128.load32_splat(x + k);
        const x1 = v128.load32_splat(x + k + 4);
        a0 = f32x4.add(a0, f32x4.mul(x0, v128.load(w)));
        a1 = f32x4.add(a1, f32x4.mul(x0, v128.load(w, 16)));
        c0 = f32x4.add(c0, f32x4.mul(x1, v128.load(w, 32)));
        c1 = f32x4.add(c1, f32x4.mul(x1, v128.load(w, 48)));
        w += 64;
      }
      for (; k < rowBytes; k += 4) {
        const x0 = v128.load32_splat(x + k);
        a0 = f32x4.add(a0, f32x4.mul(x0, v128.load(w)));
        a1 = f32x4.add(a1, f32x4.mul(x0, v128.load(w, 16)));
        w += 32;
      }
      const o = output + <usize>b * outBytes + (<usize>nb << 2);
      store8(o, activate4(f32x4.add(a0, c0), act, alpha, s0), activate4(f32x4.add(a1, c1), act, alpha, s1), n);
    }
  }
}
