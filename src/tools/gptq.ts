/**
 * Low-bit weights for a dense layer that keep its outputs, not only its weights, close to the
 * float layer's: GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative
 * Pre-trained Transformers", ICLR 2023). The inputs are quantised one at a time; the rounding
 * error of each is spread over the inputs not yet quantised, weighted by the inverse of the
 * inputs' second-moment matrix H = X'X measured on calibration data, so that correlated inputs
 * make up for each other's rounding. Plain rounding of 4-bit codes adds an error of about a sixth
 * of a weight's spread to every weight, independently; GPTQ removes most of what that error does
 * to the layer's output on inputs like the calibration ones.
 */
import { upperInverseFactor } from '../math/linalg.js';

/** Share of the mean diagonal added to H's diagonal, so that H stays invertible (GPTQ's 1%). */
export const DEFAULT_DAMPING = 0.01;

/** Clip ratios tried per channel (of max |w|) when choosing the scale. */
const CLIP_RATIOS = Array.from({ length: 21 }, (_, i) => 1 - i * 0.025);

/**
 * One positive scale per output channel of w ([inputs][outputs], row-major) for symmetric codes
 * -codeMax..codeMax: per channel the clip (a fraction of max |w|, 0.5..1) whose plain rounding
 * has the smallest squared error. An all-zero channel gets scale 1.
 */
export function channelScales(w: Float32Array, inputs: number, outputs: number, codeMax: number): Float32Array {
  const scales = new Float32Array(outputs);
  for (let o = 0; o < outputs; o++) {
    let largest = 0;
    for (let i = 0; i < inputs; i++) largest = Math.max(largest, Math.abs(w[i * outputs + o]));
    if (largest === 0) {
      scales[o] = 1;
      continue;
    }
    let best = Infinity;
    for (const ratio of CLIP_RATIOS) {
      const scale = (largest * ratio) / codeMax;
      let error = 0;
      for (let i = 0; i < inputs; i++) {
        const v = w[i * outputs + o];
        error += (v - roundCode(v / scale, codeMax) * scale) ** 2;
      }
      if (error < best) {
        best = error;
        scales[o] = scale;
      }
    }
  }
  return scales;
}

/** Nearest code, clamped to -codeMax..codeMax. */
function roundCode(x: number, codeMax: number): number {
  return Math.max(-codeMax, Math.min(codeMax, Math.round(x)));
}

/** Adds X'X of `rows` input rows (x: rows x dim, row-major) to the dim x dim matrix h (lower triangle). */
export function accumulateGram(h: Float64Array, x: Float32Array, rows: number, dim: number): void {
  const row = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < dim; i++) row[i] = x[r * dim + i];
    for (let i = 0; i < dim; i++) {
      const xi = row[i];
      if (xi === 0) continue; // post-ReLU inputs are mostly zero
      const at = i * dim;
      for (let j = 0; j <= i; j++) h[at + j] += xi * row[j];
    }
  }
}

/**
 * GPTQ codes for w ([inputs][outputs], row-major) with the given per-output scales, from the
 * inputs' Gram matrix `gram` (inputs x inputs, lower triangle read; see accumulateGram). Inputs
 * that were zero on every calibration row are free to absorb error: their weights get code 0.
 */
export function gptqCodes(
  w: Float32Array, inputs: number, outputs: number, scales: Float32Array, codeMax: number,
  gram: Float64Array, damping = DEFAULT_DAMPING,
): Int8Array {
  const h = new Float64Array(inputs * inputs);
  for (let i = 0; i < inputs; i++) for (let j = 0; j <= i; j++) h[i * inputs + j] = h[j * inputs + i] = gram[i * inputs + j];
  const work = Float64Array.from(w);
  let meanDiagonal = 0;
  for (let i = 0; i < inputs; i++) meanDiagonal += h[i * inputs + i] / inputs;
  for (let i = 0; i < inputs; i++) {
    if (h[i * inputs + i] === 0) {
      h[i * inputs + i] = 1;
      work.fill(0, i * outputs, (i + 1) * outputs);
    }
    h[i * inputs + i] += damping * (meanDiagonal || 1);
  }
  // u: the upper Cholesky factor of H^-1 (H^-1 = u'u); row i holds how input i's rounding error
  // is spread over the inputs after it
  const u = upperInverseFactor(h, inputs);
  const codes = new Int8Array(inputs * outputs);
  const error = new Float64Array(outputs);
  for (let i = 0; i < inputs; i++) {
    const pivot = u[i * inputs + i];
    for (let o = 0; o < outputs; o++) {
      const v = work[i * outputs + o];
      const code = roundCode(v / scales[o], codeMax);
      codes[i * outputs + o] = code;
      error[o] = (v - code * scales[o]) / pivot;
    }
    for (let j = i + 1; j < inputs; j++) {
      const spread = u[i * inputs + j];
      if (spread === 0) continue;
      const at = j * outputs;
      for (let o = 0; o < outputs; o++) work[at + o] -= error[o] * spread;
    }
  }
  return codes;
}
