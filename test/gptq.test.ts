// GPTQ (src/tools/gptq.ts) and the factor it needs (upperInverseFactor, src/math/linalg.ts).
import { describe, expect, it } from 'vitest';
import { upperInverseFactor } from '../src/math/linalg.js';
import { seededRandom } from '../src/math/random.js';
import { accumulateGram, channelScales, gptqCodes } from '../src/tools/gptq.js';

const random = seededRandom(3);
const gaussian = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());

/** rows x dim inputs with strongly correlated columns (a few shared factors plus noise), some post-ReLU zeros. */
function correlatedInputs(rows: number, dim: number, deadColumn: number): Float32Array {
  const factors = 4;
  const mix = Float64Array.from({ length: factors * dim }, gaussian);
  const x = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const z = Array.from({ length: factors }, gaussian);
    for (let i = 0; i < dim; i++) {
      let v = 0.3 * gaussian();
      for (let f = 0; f < factors; f++) v += z[f] * mix[f * dim + i];
      x[r * dim + i] = i === deadColumn ? 0 : Math.max(0, v);
    }
  }
  return x;
}

/** ||X (W - Q)||^2 over the rows: the layer's output error. */
function outputError(x: Float32Array, rows: number, dim: number, w: Float32Array, q: Float32Array, outputs: number): number {
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outputs; o++) {
      let e = 0;
      for (let i = 0; i < dim; i++) e += x[r * dim + i] * (w[i * outputs + o] - q[i * outputs + o]);
      sum += e * e;
    }
  }
  return sum;
}

describe('upperInverseFactor', () => {
  it("gives upper-triangular U with U'U A = I", () => {
    const n = 7;
    const b = Float64Array.from({ length: n * n }, gaussian);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      for (let k = 0; k < n; k++) a[i * n + j] += b[i * n + k] * b[j * n + k];
      if (i === j) a[i * n + j] += 0.5;
    }
    const u = upperInverseFactor(a, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(u[i * n + j]).toBe(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let v = 0; // (U'U A)[i][j]
      for (let k = 0; k < n; k++) for (let m = 0; m < n; m++) v += u[k * n + i] * u[k * n + m] * a[m * n + j];
      expect(v).toBeCloseTo(i === j ? 1 : 0, 8);
    }
  });
});

describe('GPTQ', () => {
  const rows = 400, dim = 48, outputs = 6, codeMax = 7, dead = 5;
  const x = correlatedInputs(rows, dim, dead);
  const w = Float32Array.from({ length: dim * outputs }, () => 0.1 * gaussian());

  it('accumulates the lower triangle of X\'X', () => {
    const gram = new Float64Array(dim * dim);
    accumulateGram(gram, x.subarray(0, 10 * dim), 10, dim);
    accumulateGram(gram, x.subarray(10 * dim, 30 * dim), 20, dim);
    for (const [i, j] of [[0, 0], [9, 3], [47, 46], [30, 12]]) {
      let v = 0;
      for (let r = 0; r < 30; r++) v += x[r * dim + i] * x[r * dim + j];
      expect(gram[i * dim + j]).toBeCloseTo(v, 6);
    }
  });

  it('chooses per-channel scales that round no worse than max |w| / codeMax', () => {
    const scales = channelScales(w, dim, outputs, codeMax);
    for (let o = 0; o < outputs; o++) {
      let largest = 0;
      for (let i = 0; i < dim; i++) largest = Math.max(largest, Math.abs(w[i * outputs + o]));
      const error = (s: number) => Array.from({ length: dim }, (_, i) => (w[i * outputs + o] - Math.max(-codeMax, Math.min(codeMax, Math.round(w[i * outputs + o] / s))) * s) ** 2).reduce((a, b) => a + b);
      expect(error(scales[o])).toBeLessThanOrEqual(error(largest / codeMax) + 1e-12);
      expect(scales[o]).toBeLessThanOrEqual(largest / codeMax + 1e-9);
    }
    expect(channelScales(new Float32Array(6), 3, 2, codeMax)).toEqual(Float32Array.from([1, 1]));
  });

  it('cuts the output error of plain rounding on correlated inputs, codes in range, dead inputs zero', () => {
    const scales = channelScales(w, dim, outputs, codeMax);
    const gram = new Float64Array(dim * dim);
    accumulateGram(gram, x, rows, dim);
    const codes = gptqCodes(w, dim, outputs, scales, codeMax, gram);
    expect(codes.every((c) => Math.abs(c) <= codeMax)).toBe(true);
    for (let o = 0; o < outputs; o++) expect(codes[dead * outputs + o]).toBe(0);
    const values = (c: ArrayLike<number>) => Float32Array.from({ length: dim * outputs }, (_, i) => c[i] * scales[i % outputs]);
    const rounded = Float32Array.from(w, (v, i) => Math.max(-codeMax, Math.min(codeMax, Math.round(v / scales[i % outputs]))));
    const plain = outputError(x, rows, dim, w, values(rounded), outputs);
    const gptq = outputError(x, rows, dim, w, values(codes), outputs);
    expect(gptq).toBeLessThan(0.5 * plain);
  });
});
