/**
 * Student input from a prepared crop: RGB uint8 HWC -> the model's preprocess (for the
 * student: BGR, (x - 127.5) * 3.2/255), optionally with a small photometric jitter first.
 * Only photometric changes are applied: the teacher target was computed on this very crop, and
 * the teacher is close to invariant to small brightness/contrast/colour changes, whereas any
 * geometric change would move the face away from what the target describes (geometric
 * variety comes from the prepared views instead).
 */
import type { Preprocess } from '../../engine/graph.js';
import { TrainingError } from './errors.js';

export interface JitterOptions {
  /** Added to every channel: uniform in +-brightness (0..255 units). */
  brightness: number;
  /** Contrast factor around the crop's mean: uniform in 1 +- contrast. */
  contrast: number;
  /** Per-channel gain: uniform in 1 +- color. */
  color: number;
}

/** Small enough to keep the teacher's output essentially unchanged. */
export const DEFAULT_JITTER: JitterOptions = { brightness: 12, contrast: 0.12, color: 0.05 };

/** One image's jitter draw. */
export interface Jitter {
  brightness: number;
  contrast: number;
  gain: [number, number, number];
}

export function sampleJitter(random: () => number, options: JitterOptions): Jitter {
  const spread = (amount: number) => (random() * 2 - 1) * amount;
  return {
    brightness: spread(options.brightness),
    contrast: 1 + spread(options.contrast),
    gain: [1 + spread(options.color), 1 + spread(options.color), 1 + spread(options.color)],
  };
}

/**
 * Writes the network input for an RGB crop of `pixels` pixels into out[at ...]:
 * x = clamp(((rgb - m) * contrast + m) * gain + brightness, 0, 255) (m: the crop's mean),
 * then x' = (x[order] - mean) * scale.
 */
export function preprocessCrop(crop: Uint8Array, preprocess: Preprocess, out: Float32Array, at: number, jitter?: Jitter): void {
  if (crop.length % 3 !== 0) throw new TrainingError(`crop has ${crop.length} bytes, not a whole number of RGB pixels`);
  const pixels = crop.length / 3;
  const order = preprocess.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const { mean, scale } = preprocess;
  if (!jitter) {
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < 3; c++) out[at + p * 3 + c] = (crop[p * 3 + order[c]] - mean[c]) * scale[c];
    }
    return;
  }
  let sum = 0;
  for (let i = 0; i < crop.length; i++) sum += crop[i];
  const m = sum / crop.length;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      const source = order[c];
      const v = ((crop[p * 3 + source] - m) * jitter.contrast + m) * jitter.gain[source] + jitter.brightness;
      out[at + p * 3 + c] = (Math.min(255, Math.max(0, v)) - mean[c]) * scale[c];
    }
  }
}
