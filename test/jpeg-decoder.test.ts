/**
 * The two JPEG decoders behind decodeImage: libjpeg-turbo in wasm (Node, Deno, Bun: the one the
 * other tests meet) checked against jpeg-js (the browser and edge bundles' decoder, and Node's
 * before) as the plain reference; DCT scaling against a full decode shrunk by area averaging;
 * Adobe CMYK on a hand-built 4-component JPEG; bad data refused, with the next decode unaffected.
 */
import { readdirSync, readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeImage, resizeBilinear } from '../src/image.js';
import { decodeJpegPixels } from '../src/jpeg-decoder.js';
import { decodeJpegPixels as decodeWithJpegJs } from '../src/jpeg-decoder.web.js';
import { largeJpeg } from '../src/tools/large-jpeg.js';

const request = { scale: 1, maxPixels: 65_000_000, adobe: false } as const;
const samples = new URL('../demo/samples/', import.meta.url);
const sampleJpegs = readdirSync(samples).filter((f) => f.endsWith('.jpg')).map((f) => new Uint8Array(readFileSync(new URL(f, samples))));

function differences(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / a.length, max };
}

/**
 * A baseline 8x8 JPEG with 4 components (CMYK, Adobe APP14 transform 0), each a flat block:
 * quantiser 8 on DC, so the stored DC difference is the ink value - 128; AC is one EOB.
 */
function flatCmykJpeg(ink: [number, number, number, number]): Uint8Array {
  const bytes: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]) => bytes.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255, ...body);
  segment(0xee, [...Array.from('Adobe', (c) => c.charCodeAt(0)), 0, 100, 0, 0, 0, 0, 0]); // transform 0: plain CMYK
  segment(0xdb, [0, 8, ...new Array(63).fill(1)]);
  segment(0xc0, [8, 0, 8, 0, 8, 4, ...[1, 2, 3, 4].flatMap((id) => [id, 0x11, 0])]);
  const dcBits = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]; // the standard luminance DC table
  segment(0xc4, [0x00, ...dcBits, ...Array.from({ length: 12 }, (_, i) => i)]);
  segment(0xc4, [0x10, 1, ...new Array(15).fill(0), 0x00]); // AC: only EOB, code "0"
  segment(0xda, [4, ...[1, 2, 3, 4].flatMap((id) => [id, 0x00]), 0, 63, 0]);
  const dcCodes = ['00', '010', '011', '100', '101', '110', '1110', '11110', '111110'];
  let bits = '';
  for (const value of ink) {
    const diff = value - 128;
    const category = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
    const extra = diff >= 0 ? diff : diff + (1 << category) - 1;
    bits += dcCodes[category] + (category ? extra.toString(2).padStart(category, '0') : '') + '0';
  }
  bits = bits.padEnd(Math.ceil(bits.length / 8) * 8, '1');
  for (let i = 0; i < bits.length; i += 8) {
    const byte = parseInt(bits.slice(i, i + 8), 2);
    bytes.push(byte, ...(byte === 0xff ? [0] : []));
  }
  bytes.push(0xff, 0xd9);
  return new Uint8Array(bytes);
}

describe('libjpeg-turbo (wasm) against jpeg-js', () => {
  it('decodes the sample photos to the same size and nearly the same pixels (chroma upsampling differs)', () => {
    for (const file of sampleJpegs) {
      const turbo = decodeJpegPixels(file, request);
      const reference = decodeWithJpegJs(file, request);
      expect([turbo.width, turbo.height, turbo.warned]).toEqual([reference.width, reference.height, false]);
      expect(differences(turbo.data, reference.data).mean).toBeLessThan(1.5);
    }
  });

  it('decodes a 4:4:4 photo-like JPEG within rounding of the reference', () => {
    const file = largeJpeg(320, 240);
    const { mean, max } = differences(decodeJpegPixels(file, request).data, decodeWithJpegJs(file, request).data);
    expect(mean).toBeLessThan(0.5);
    expect(max).toBeLessThanOrEqual(3);
  });

  it("converts Adobe's (inverted) CMYK to RGB as jpeg-js does", () => {
    for (const ink of [[128, 128, 128, 128], [20, 200, 90, 0], [255, 0, 0, 60], [0, 0, 0, 255]] as [number, number, number, number][]) {
      const file = flatCmykJpeg(ink);
      const turbo = decodeJpegPixels(file, { ...request, adobe: true });
      const reference = jpeg.decode(file, { useTArray: true, formatAsRGBA: false });
      expect([turbo.width, turbo.height]).toEqual([8, 8]);
      expect(differences(turbo.data, reference.data as Uint8Array).max, `ink ${ink}`).toBeLessThanOrEqual(1);
      expect(decodeImage(file).data).toEqual(turbo.data); // decodeImage finds the Adobe segment
    }
  });

  it('decodes at 1/2, 1/4 and 1/8 in the DCT domain: sizes rounded up, pixels close to a shrunk full decode', () => {
    const file = largeJpeg(400, 300);
    const full = decodeJpegPixels(file, request);
    for (const scale of [2, 4, 8] as const) {
      const scaled = decodeJpegPixels(file, { ...request, scale });
      expect([scaled.width, scaled.height]).toEqual([Math.ceil(400 / scale), Math.ceil(300 / scale)]);
      const shrunk = resizeBilinear(full, scaled.width, scaled.height);
      expect(differences(scaled.data, shrunk.data).mean, `1/${scale}`).toBeLessThan(4);
    }
  });

  it('throws on data libjpeg refuses, warns on a cut file, and the next decode is unaffected', () => {
    const file = sampleJpegs[0];
    expect(() => decodeJpegPixels(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 2]), request)).toThrow();
    expect(decodeJpegPixels(file.subarray(0, Math.floor(file.length * 0.7)), request).warned).toBe(true);
    expect(decodeJpegPixels(file, request)).toMatchObject({ warned: false, data: decodeJpegPixels(file, request).data });
  });
});
