/**
 * The edge bundles' PNG decoder (platform inflate, no pngjs) against decodeImage (pngjs) on
 * every colour type and both bit depths it reads, and its typed refusals.
 */
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage, ImageDecodeError } from '../src/image.js';
import { seededRandom } from '../src/math/random.js';
import { decodePngWithPlatform } from '../src/runtime/png-stream.js';

function pngOf(colorType: 0 | 2 | 4 | 6, bitDepth: 8 | 16, { interlace = false } = {}): Uint8Array {
  const random = seededRandom(colorType * 100 + bitDepth);
  const width = 23;
  const height = 17;
  const png = new PNG({ width, height, colorType, bitDepth, inputColorType: 6, inputHasAlpha: true });
  for (let i = 0; i < png.data.length; i++) png.data[i] = Math.floor(random() * 256);
  const file = PNG.sync.write(png, { colorType, bitDepth, inputColorType: 6, inputHasAlpha: true, ...(interlace ? { interlace: true } : {}) });
  return new Uint8Array(file);
}

describe('decodePngWithPlatform', () => {
  for (const colorType of [0, 2, 4, 6] as const) {
    for (const bitDepth of [8, 16] as const) {
      it(`colour type ${colorType}, ${bitDepth} bits: the pixels decodeImage gives`, async () => {
        const bytes = pngOf(colorType, bitDepth);
        const mine = await decodePngWithPlatform(bytes);
        const reference = decodeImage(bytes);
        expect([mine.width, mine.height]).toEqual([reference.width, reference.height]);
        expect(Buffer.from(mine.data).equals(Buffer.from(reference.data))).toBe(true);
      });
    }
  }

  it('refuses truncated and corrupt files with ImageDecodeError', async () => {
    const bytes = pngOf(2, 8);
    await expect(decodePngWithPlatform(bytes.subarray(0, 60))).rejects.toThrow(ImageDecodeError);
    const corrupt = bytes.slice();
    corrupt.fill(7, 45, 80); // inside the image data
    await expect(decodePngWithPlatform(corrupt)).rejects.toThrow(ImageDecodeError);
  });
});
