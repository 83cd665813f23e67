/**
 * A photo-like large JPEG for the decoder's benchmark and tests, made when needed (data images
 * are never committed): a sample photo (face-api's MIT-licensed demo group photo in
 * demo/samples) scaled up to width x height, with per-pixel noise as a camera sensor adds, so
 * that the entropy-coded data is as dense as a real photo's rather than a smooth blow-up's;
 * encoded with jpeg-js at quality 90 (4:4:4 chroma, heavier to decode than a camera's 4:2:0).
 */
import { readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { decodeImage, resizeBilinear } from '../image.js';
import { seededRandom } from '../math/random.js';

const SOURCE = new URL('../../demo/samples/group1.jpg', import.meta.url);
const NOISE = 16;

export function largeJpeg(width = 6000, height = 4000, seed = 1): Uint8Array {
  const sample = decodeImage(new Uint8Array(readFileSync(SOURCE)));
  const image = resizeBilinear(sample, width, height);
  const random = seededRandom(seed);
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, o = 0; i < image.data.length; i += 3, o += 4) {
    const noise = Math.floor(random() * NOISE) - NOISE / 2;
    rgba[o] = Math.min(255, Math.max(0, image.data[i] + noise));
    rgba[o + 1] = Math.min(255, Math.max(0, image.data[i + 1] + noise));
    rgba[o + 2] = Math.min(255, Math.max(0, image.data[i + 2] + noise));
    rgba[o + 3] = 255;
  }
  const { data } = jpeg.encode({ width, height, data: rgba }, 90);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
