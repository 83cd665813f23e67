/**
 * toRgbImage of the server entry (Node, Deno, Bun) and the shared raw-pixel helpers. The
 * browser entry's canvas paths are checked in Chromium by run.ts (inputChecks).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImageShapeError, decodeImage } from '../../src/image.js';
import { ImageInputError, fromRawPixels, toRgba } from '../../src/runtime/pixels.js';
import { toRgbImage } from '../../src/runtime/server.js';

const sample = new URL('../../demo/samples/b.jpg', import.meta.url);
const bytes = new Uint8Array(readFileSync(sample));
const expected = decodeImage(bytes);

describe('server toRgbImage', () => {
  it('reads paths, file URLs, Buffers, Uint8Arrays, ArrayBuffers and Blobs to the same pixels', async () => {
    const inputs = [sample.pathname, sample, readFileSync(sample), bytes, bytes.slice().buffer, new Blob([bytes])];
    for (const input of inputs) expect(await toRgbImage(input)).toEqual(expected);
  });

  it('wraps raw RGB and RGBA pixels, with or without a channel count', async () => {
    const rgba = toRgba(expected);
    expect(await toRgbImage({ data: rgba, width: expected.width, height: expected.height })).toEqual(expected);
    expect(await toRgbImage({ data: expected.data, width: expected.width, height: expected.height, channels: 3 })).toEqual(expected);
  });

  it('rejects what it cannot read with typed errors', async () => {
    await expect(toRgbImage(42 as never)).rejects.toThrow(ImageInputError);
    await expect(toRgbImage({ data: new Uint8Array(5), width: 2, height: 2 })).rejects.toThrow(ImageShapeError);
    await expect(toRgbImage('/nonexistent/photo.jpg')).rejects.toMatchObject({ name: 'FileReadError', code: 'ENOENT' });
  });
});

describe('raw pixels', () => {
  it('toRgba is the inverse of fromRawPixels on RGBA input, with opaque alpha', () => {
    const rgba = toRgba(expected);
    expect(rgba.length).toBe(expected.width * expected.height * 4);
    expect(rgba.filter((_, i) => i % 4 === 3).every((a) => a === 255)).toBe(true);
    expect(fromRawPixels({ data: rgba, width: expected.width, height: expected.height })).toEqual(expected);
  });

  it('an explicit channel count must match the data', () => {
    expect(() => fromRawPixels({ data: new Uint8Array(12), width: 2, height: 2, channels: 4 })).toThrow(ImageShapeError);
  });
});
