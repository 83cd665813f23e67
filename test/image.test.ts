import { existsSync, readdirSync, readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  applyOrientation,
  cropImage,
  decodeImage,
  encodePng,
  fromRgb,
  fromRgba,
  ImageDecodeError,
  ImageShapeError,
  ImageTooLargeError,
  jpegOrientation,
  MAX_DECODE_PIXELS,
  mirrorImage,
  resizeBilinear,
  sniffImageFormat,
  type ExifOrientation,
  type RgbImage,
} from '../src/image.js';

/** A deterministic, asymmetric test picture: smooth gradients plus a bright block near the top-left. */
function pattern(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      const block = x < width / 4 && y < height / 3;
      data[p] = block ? 250 : Math.round((255 * x) / (width - 1));
      data[p + 1] = block ? 250 : Math.round((255 * y) / (height - 1));
      data[p + 2] = (x * 7 + y * 13) % 256;
    }
  }
  return { width, height, data };
}

function toRgba(img: RgbImage, alpha = 255): Uint8Array {
  const out = new Uint8Array(img.width * img.height * 4);
  for (let i = 0, j = 0; i < img.data.length; i += 3, j += 4) {
    out[j] = img.data[i];
    out[j + 1] = img.data[i + 1];
    out[j + 2] = img.data[i + 2];
    out[j + 3] = alpha;
  }
  return out;
}

function encodeJpeg(img: RgbImage, quality = 95): Uint8Array {
  return new Uint8Array(jpeg.encode({ width: img.width, height: img.height, data: toRgba(img) }, quality).data);
}

/** Naive pixel access, for the reference implementations below. */
const px = (img: RgbImage, x: number, y: number): number[] => {
  const p = (y * img.width + x) * 3;
  return [img.data[p], img.data[p + 1], img.data[p + 2]];
};

function build(width: number, height: number, f: (x: number, y: number) => number[]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  return { width, height, data };
}

const flipH = (img: RgbImage) => build(img.width, img.height, (x, y) => px(img, img.width - 1 - x, y));
/** Clockwise quarter turn: the bottom-left corner comes to the top-left. */
const rotateCw = (img: RgbImage) => build(img.height, img.width, (x, y) => px(img, y, img.height - 1 - x));

/** Exif orientations as compositions of the two naive operations (the TIFF 6.0 definitions). */
const referenceOrientation: Record<ExifOrientation, (img: RgbImage) => RgbImage> = {
  1: (i) => i,
  2: flipH,
  3: (i) => rotateCw(rotateCw(i)),
  4: (i) => flipH(rotateCw(rotateCw(i))),
  5: (i) => flipH(rotateCw(i)),
  6: rotateCw,
  7: (i) => flipH(rotateCw(rotateCw(rotateCw(i)))),
  8: (i) => rotateCw(rotateCw(rotateCw(i))),
};

/** An APP1 Exif segment holding IFD0 with a single Orientation entry. */
function exifSegment(orientation: number, littleEndian: boolean): Uint8Array {
  const tiff = new Uint8Array(8 + 2 + 12 + 4);
  const v = new DataView(tiff.buffer);
  tiff.set(littleEndian ? [0x49, 0x49] : [0x4d, 0x4d]);
  v.setUint16(2, 42, littleEndian);
  v.setUint32(4, 8, littleEndian);
  v.setUint16(8, 1, littleEndian); // one entry
  v.setUint16(10, 0x0112, littleEndian);
  v.setUint16(12, 3, littleEndian); // SHORT
  v.setUint32(14, 1, littleEndian);
  v.setUint16(18, orientation, littleEndian);
  const payload = new Uint8Array([0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff]);
  const length = payload.length + 2;
  return new Uint8Array([0xff, 0xe1, length >> 8, length & 255, ...payload]);
}

function withSegmentAfterSoi(file: Uint8Array, segment: Uint8Array): Uint8Array {
  const out = new Uint8Array(file.length + segment.length);
  out.set(file.subarray(0, 2));
  out.set(segment, 2);
  out.set(file.subarray(2), 2 + segment.length);
  return out;
}

function expectDecodeError(bytes: Uint8Array, message?: RegExp): void {
  let caught: unknown;
  try {
    decodeImage(bytes);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ImageDecodeError);
  expect((caught as Error).name).toMatch(/^Image(Decode|TooLarge)Error$/); // too large: its subclass
  if (message) expect((caught as Error).message).toMatch(message);
}

/** A baseline JPEG header (SOI, SOF0) declaring width x height, 3 components at 4:4:4, and nothing more. */
function forgedJpegHeader(width: number, height: number): Uint8Array {
  return new Uint8Array([
    0xff, 0xd8,
    0xff, 0xc0, 0, 17, 8, height >> 8, height & 255, width >> 8, width & 255, 3,
    1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1,
    0xff, 0xd9,
  ]);
}

describe('decodeImage: PNG', () => {
  it('round-trips an RGB image exactly through encodePng', () => {
    const img = pattern(37, 23);
    const file = encodePng(img);
    expect(Array.from(file.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(sniffImageFormat(file)).toBe('png');
    const back = decodeImage(file);
    expect([back.width, back.height]).toEqual([37, 23]);
    expect(back.data).toEqual(img.data);
  });

  it('turns a greyscale PNG into 3 equal channels', () => {
    const w = 16, h = 9;
    const png = new PNG({ width: w, height: h });
    for (let i = 0; i < w * h; i++) png.data.set([i, i, i, 255], i * 4);
    const file = new Uint8Array(PNG.sync.write(png, { colorType: 0 }));
    expect(file[25]).toBe(0); // IHDR colour type: greyscale
    const img = decodeImage(file);
    expect(img.data.length).toBe(w * h * 3);
    for (let i = 0; i < w * h; i++) expect(px(img, i % w, Math.floor(i / w))).toEqual([i, i, i]);
  });

  it('drops alpha from an RGBA PNG without compositing', () => {
    const img = pattern(12, 10);
    const png = new PNG({ width: 12, height: 10 });
    png.data.set(toRgba(img, 7));
    const decoded = decodeImage(new Uint8Array(PNG.sync.write(png, { colorType: 6 })));
    expect(decoded.data).toEqual(img.data);
  });

  it('accepts a Uint8Array view into a larger buffer', () => {
    const file = encodePng(pattern(8, 8));
    const big = new Uint8Array(file.length + 20);
    big.set(file, 10);
    expect(decodeImage(big.subarray(10, 10 + file.length)).data).toEqual(pattern(8, 8).data);
  });
});

describe('decodeImage: JPEG', () => {
  it('decodes what jpeg-js encodes, close to the original', () => {
    const img = pattern(40, 30);
    const back = decodeImage(encodeJpeg(img));
    expect([back.width, back.height]).toEqual([40, 30]);
    let err = 0;
    for (let i = 0; i < img.data.length; i++) err += Math.abs(back.data[i] - img.data[i]);
    expect(err / img.data.length).toBeLessThan(4);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8] as ExifOrientation[])('applies Exif orientation %i (both byte orders)', (o) => {
    const file = encodeJpeg(pattern(24, 15));
    const stored = decodeImage(file);
    for (const little of [true, false]) {
      const tagged = withSegmentAfterSoi(file, exifSegment(o, little));
      expect(jpegOrientation(tagged)).toBe(o);
      const upright = decodeImage(tagged);
      const expected = referenceOrientation[o](stored);
      expect([upright.width, upright.height]).toEqual([expected.width, expected.height]);
      expect(upright.data).toEqual(expected.data);
    }
  });

  it('orientation 6 puts the stored top row on the right (camera turned clockwise)', () => {
    const stored = build(20, 12, (_x, y) => (y < 4 ? [255, 0, 0] : [0, 0, 255]));
    const upright = decodeImage(withSegmentAfterSoi(encodeJpeg(stored, 100), exifSegment(6, true)));
    expect([upright.width, upright.height]).toEqual([12, 20]);
    expect(px(upright, 11, 10)[0]).toBeGreaterThan(200); // right edge red
    expect(px(upright, 0, 10)[2]).toBeGreaterThan(200); // left edge blue
  });

  it('ignores a malformed Exif block instead of failing the photo', () => {
    const file = encodeJpeg(pattern(16, 16));
    const bad = exifSegment(6, true);
    bad[bad.length - 22] = 0xee; // IFD offset points past the block
    const tagged = withSegmentAfterSoi(file, bad);
    expect(jpegOrientation(tagged)).toBe(1);
    expect(decodeImage(tagged).data).toEqual(decodeImage(file).data);
  });

  it('applies the orientation of a PNG eXIf chunk', () => {
    const img = pattern(10, 6);
    const file = encodePng(img);
    const tiff = exifSegment(8, false).subarray(10); // TIFF body without marker, length, "Exif\0\0"
    const chunk = new Uint8Array(12 + tiff.length);
    new DataView(chunk.buffer).setUint32(0, tiff.length);
    chunk.set([0x65, 0x58, 0x49, 0x66], 4); // "eXIf"
    chunk.set(tiff, 8);
    // pngjs checks every chunk's CRC-32 (over type and data): compute it bit by bit.
    let crc = ~0;
    for (const byte of chunk.subarray(4, 8 + tiff.length)) {
      crc ^= byte;
      for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
    }
    new DataView(chunk.buffer).setUint32(8 + tiff.length, ~crc >>> 0);
    const ihdrEnd = 8 + 25;
    const tagged = new Uint8Array(file.length + chunk.length);
    tagged.set(file.subarray(0, ihdrEnd));
    tagged.set(chunk, ihdrEnd);
    tagged.set(file.subarray(ihdrEnd), ihdrEnd + chunk.length);
    expect(decodeImage(tagged).data).toEqual(referenceOrientation[8](img).data);
  });
});

describe('decodeImage: bad input', () => {
  it('rejects empty input', () => expectDecodeError(new Uint8Array(0), /empty/));

  it('rejects non-image bytes and names formats it recognises', () => {
    expectDecodeError(new TextEncoder().encode('hello, this is not an image'), /not an image/);
    expectDecodeError(new TextEncoder().encode('GIF89a\x01\x00\x01\x00'), /GIF/);
    expectDecodeError(new TextEncoder().encode('RIFF\x00\x00\x00\x00WEBPVP8 '), /WebP/);
    expectDecodeError(new Uint8Array([0xff, 0xd8]), /JPEG/);
  });

  it('rejects non-Uint8Array input', () => {
    expectDecodeError('abc' as unknown as Uint8Array, /Uint8Array/);
  });

  it('rejects truncated JPEGs at every cut', () => {
    const file = encodeJpeg(pattern(64, 48));
    for (const frac of [0.05, 0.2, 0.5, 0.8, 0.95]) {
      expectDecodeError(file.subarray(0, Math.floor(file.length * frac)));
    }
    expectDecodeError(file.subarray(0, file.length - 2)); // only EOI missing
  });

  it('rejects a JPEG with garbage in its entropy-coded data', () => {
    const file = encodeJpeg(pattern(64, 48)).slice();
    const start = file.length - Math.floor(file.length / 2);
    for (let i = start; i < start + 64; i++) file[i] = 0xff;
    expectDecodeError(file, /JPEG/);
  });

  it('rejects truncated and corrupt PNGs', () => {
    const file = encodePng(pattern(30, 20));
    for (const frac of [0.1, 0.5, 0.9]) expectDecodeError(file.subarray(0, Math.floor(file.length * frac)), /PNG/);
    const corrupt = file.slice();
    corrupt[corrupt.length - 20] ^= 0xff; // inside IDAT: CRC mismatch
    expectDecodeError(corrupt, /PNG/);
  });

  it('refuses forged headers before reserving memory for them', () => {
    expectDecodeError(forgedJpegHeader(60000, 60000), /megapixel/);
    // 8000x8000 is within the pixel limit, but 23 bytes cannot hold it.
    expect(8000 * 8000).toBeLessThanOrEqual(MAX_DECODE_PIXELS);
    expectDecodeError(forgedJpegHeader(8000, 8000), /truncated/);
    expectDecodeError(forgedJpegHeader(8100, 8100), /megapixel/);
    const png = encodePng(pattern(4, 4)).slice();
    new DataView(png.buffer).setUint32(16, 50000); // IHDR width
    new DataView(png.buffer).setUint32(20, 50000); // IHDR height
    expectDecodeError(png, /megapixel/);
  });
});

describe('pixel helpers', () => {
  it('fromRgba drops alpha and checks the length', () => {
    const img = pattern(5, 4);
    expect(fromRgba(new Uint8ClampedArray(toRgba(img, 0)), 5, 4).data).toEqual(img.data);
    expect(() => fromRgba(new Uint8Array(79), 5, 4)).toThrow(ImageShapeError);
    expect(() => fromRgba(new Uint8Array(0), 0, 4)).toThrow(ImageShapeError);
    expect(() => fromRgba(new Uint8Array(80), 5.5, 4)).toThrow(ImageShapeError);
  });

  it('fromRgb wraps without copying and checks the length', () => {
    const data = new Uint8Array(2 * 3 * 3);
    const img = fromRgb(data, 2, 3);
    data[4] = 99;
    expect(img.data[4]).toBe(99);
    expect(fromRgb(new Uint8ClampedArray(18), 3, 2).data).toBeInstanceOf(Uint8Array);
    expect(() => fromRgb(new Uint8Array(17), 2, 3)).toThrow(ImageShapeError);
  });

  it('mirrorImage flips left-right and is its own inverse', () => {
    const img = pattern(9, 5);
    expect(mirrorImage(img).data).toEqual(flipH(img).data);
    expect(mirrorImage(mirrorImage(img)).data).toEqual(img.data);
    expect(() => mirrorImage({ width: 2, height: 2, data: new Uint8Array(11) })).toThrow(ImageShapeError);
  });

  it('applyOrientation(1) returns the image itself', () => {
    const img = pattern(3, 3);
    expect(applyOrientation(img, 1)).toBe(img);
  });

  it('cropImage copies the rectangle and refuses one outside the image', () => {
    const img = pattern(20, 10);
    const crop = cropImage(img, 3, 2, 7, 5);
    expect(crop.data).toEqual(build(7, 5, (x, y) => px(img, x + 3, y + 2)).data);
    expect(() => cropImage(img, 14, 0, 7, 5)).toThrow(ImageShapeError);
    expect(() => cropImage(img, -1, 0, 7, 5)).toThrow(ImageShapeError);
    expect(() => cropImage(img, 0, 0, 0, 5)).toThrow(ImageShapeError);
  });
});

describe('resizeBilinear', () => {
  /** Plain bilinear with pixel centres at i + 0.5, edges clamped. */
  function referenceBilinear(img: RgbImage, w: number, h: number): RgbImage {
    const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
    return build(w, h, (x, y) => {
      const sx = clamp(((x + 0.5) * img.width) / w - 0.5, img.width - 1);
      const sy = clamp(((y + 0.5) * img.height) / h - 0.5, img.height - 1);
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const x1 = Math.min(x0 + 1, img.width - 1), y1 = Math.min(y0 + 1, img.height - 1);
      const fx = sx - x0, fy = sy - y0;
      return [0, 1, 2].map((c) =>
        (1 - fy) * ((1 - fx) * px(img, x0, y0)[c] + fx * px(img, x1, y0)[c]) +
        fy * ((1 - fx) * px(img, x0, y1)[c] + fx * px(img, x1, y1)[c]),
      );
    });
  }

  const maxDiff = (a: RgbImage, b: RgbImage) => a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - b.data[i])), 0);

  it('matches a plain bilinear reference when enlarging and mildly shrinking', () => {
    const img = pattern(31, 17);
    for (const [w, h] of [[31, 17], [64, 40], [20, 11], [16, 9]]) {
      const got = resizeBilinear(img, w, h);
      const ref = referenceBilinear(img, w, h);
      expect(maxDiff(got, ref)).toBeLessThanOrEqual(1); // rounding only (reference stores truncated)
    }
    expect(resizeBilinear(img, 31, 17).data).toEqual(img.data);
  });

  it('averages whole blocks when shrinking by an integer factor over 2', () => {
    const img = pattern(64, 48);
    const got = resizeBilinear(img, 16, 12);
    const ref = build(16, 12, (x, y) =>
      [0, 1, 2].map((c) => {
        let s = 0;
        for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) s += px(img, 4 * x + dx, 4 * y + dy)[c];
        return Math.round(s / 16);
      }),
    );
    expect(maxDiff(got, ref)).toBeLessThanOrEqual(1);
  });

  it('does not alias a one-pixel checkerboard into a pattern', () => {
    const board = build(120, 90, (x, y) => ((x + y) % 2 ? [255, 255, 255] : [0, 0, 0]));
    const thumb = resizeBilinear(board, 13, 11); // 9.2x and 8.2x
    for (const v of thumb.data) expect(Math.abs(v - 127.5)).toBeLessThan(10);
  });

  it('keeps a constant image constant at any ratio', () => {
    const flat = build(50, 33, () => [10, 200, 77]);
    for (const [w, h] of [[7, 5], [3, 30], [101, 2]]) {
      const out = resizeBilinear(flat, w, h);
      expect(out.data).toEqual(build(w, h, () => [10, 200, 77]).data);
    }
  });

  it('rejects bad sizes', () => {
    expect(() => resizeBilinear(pattern(4, 4), 0, 3)).toThrow(ImageShapeError);
    expect(() => resizeBilinear(pattern(4, 4), 2.5, 3)).toThrow(ImageShapeError);
  });
});

const dataDir = new URL('../../shared/data/', import.meta.url).pathname;
describe.skipIf(!existsSync(dataDir))('real photos from ../shared/data (skipped when absent)', () => {
  it('decodes LFW and UTKFace JPEGs at their documented sizes', () => {
    const lfwPerson = `${dataDir}lfw/images/Aaron_Eckhart/`;
    const lfw = decodeImage(new Uint8Array(readFileSync(lfwPerson + readdirSync(lfwPerson)[0])));
    expect([lfw.width, lfw.height]).toEqual([192, 192]);
    const utkDir = `${dataDir}utkface/images/`;
    const utk = decodeImage(new Uint8Array(readFileSync(utkDir + readdirSync(utkDir)[0])));
    expect([utk.width, utk.height]).toEqual([200, 200]);
  });
});

describe('the pixel limit', () => {
  it('refuses a photo over options.maxPixels from its header, with a typed error naming the size', () => {
    const jpegBytes = new Uint8Array(readFileSync(new URL('../demo/samples/a.jpg', import.meta.url)));
    const { width, height } = decodeImage(jpegBytes);
    const error = (() => {
      try {
        decodeImage(jpegBytes, { maxPixels: width * height - 1 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ImageTooLargeError);
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect(error).toMatchObject({ width, height, maxPixels: width * height - 1, name: 'ImageTooLargeError' });
    expect(decodeImage(jpegBytes, { maxPixels: width * height }).width).toBe(width);
    const pngFile = encodePng({ width: 10, height: 10, data: new Uint8Array(300) });
    expect(() => decodeImage(pngFile, { maxPixels: 99 })).toThrow(ImageTooLargeError);
    expect(() => decodeImage(pngFile, { maxPixels: 0 })).toThrow(ImageShapeError);
  });
});
