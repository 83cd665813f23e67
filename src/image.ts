/**
 * RGB images: decoding (JPEG, PNG) into upright 8-bit RGB, and the few pixel operations the
 * pipeline needs (crop, mirror, resize, PNG encoding). TypeScript on Uint8Array bytes that runs
 * in every JS runtime (no Node Buffer in the public API); JPEG pixels come from jpeg-decoder.ts
 * (libjpeg-turbo in wasm, Node/Deno/Bun) or, in the browser and edge bundles, jpeg-decoder.web.ts.
 */
import { PNG } from 'pngjs';
import { MobileIdError } from './errors.js';
import { decodeJpegPixels } from './jpeg-decoder.js';

/** An 8-bit RGB image: 3 bytes per pixel, row-major, no padding between rows. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The bytes are empty, truncated, corrupt, not an image, or in a format we do not decode. */
export class ImageDecodeError extends MobileIdError {
  override name = 'ImageDecodeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    if (options) this.cause = options.cause;
  }
}

/** An image larger than the pixel limit (DecodeOptions.maxPixels), refused from its header before any pixel memory is taken. */
export class ImageTooLargeError extends ImageDecodeError {
  override name = 'ImageTooLargeError';
  constructor(
    readonly width: number,
    readonly height: number,
    readonly maxPixels: number,
    format: string,
  ) {
    super(`${format} of ${width}x${height} (${((width * height) / 1e6).toFixed(1)} megapixels) exceeds the limit of ${(maxPixels / 1e6).toFixed(1)} megapixels`);
  }
}

export interface DecodeOptions {
  /** Largest image accepted, in pixels (width x height); default and upper bound MAX_DECODE_PIXELS. */
  maxPixels?: number;
  /**
   * JPEG in Node, Deno and Bun: decode at 1/2, 1/4 or 1/8 of the stored size (in the DCT
   * domain: several times faster, a fraction of the memory) as long as the longer side stays at
   * least this many pixels. The result may then be smaller than the file; other decoders ignore it.
   */
  reduceTo?: number;
}

/** Pixel data whose length does not match the stated size, or a size/rectangle out of range. */
export class ImageShapeError extends MobileIdError {
  override name = 'ImageShapeError';
}

/**
 * Largest image decodeImage accepts, in pixels: 8000x8000 fits with a little room. Checked on
 * the header before any pixel memory is reserved, so a forged header cannot ask for more.
 */
export const MAX_DECODE_PIXELS = 65_000_000;

export type ImageFormat = 'jpeg' | 'png';

/** Exif orientation tag values 1..8 (1 = stored upright). */
export type ExifOrientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/**
 * Decodes JPEG or PNG bytes (sniffed by magic number, not by name) into an upright RGB image:
 * the Exif orientation is applied, grey becomes 3 equal channels, alpha is dropped (not
 * composited). Throws ImageDecodeError for anything else.
 */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): RgbImage {
  if (!(bytes instanceof Uint8Array)) {
    throw new ImageDecodeError('decodeImage expects the file bytes as a Uint8Array');
  }
  if (bytes.length === 0) throw new ImageDecodeError('empty input: 0 bytes');
  const maxPixels = pixelLimit(options);
  const { reduceTo = Infinity } = options;
  if (!(reduceTo > 0)) throw new ImageShapeError(`reduceTo must be a positive number of pixels, got ${reduceTo}`);
  const format = sniffImageFormat(bytes);
  if (format === 'jpeg') return applyOrientation(decodeJpeg(bytes, maxPixels, reduceTo), jpegOrientation(bytes));
  if (format === 'png') return applyOrientation(decodePng(bytes, maxPixels), pngOrientation(bytes));
  const other = otherFormatName(bytes);
  throw new ImageDecodeError(
    other
      ? `${other} images are not supported (JPEG and PNG only)`
      : 'not an image: the bytes start with neither the JPEG nor the PNG signature',
  );
}

/** The format the bytes' signature announces, or null. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  return null;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** Names a few common formats we refuse, so the error says what the file is. */
function otherFormatName(bytes: Uint8Array): string | null {
  if (startsWith(bytes, ascii('GIF8'))) return 'GIF';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'WebP';
  if (startsWith(bytes, ascii('BM'))) return 'BMP';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'TIFF';
  if (startsWith(bytes, ascii('ftyp'), 4)) return 'HEIF/AVIF/MP4';
  return null;
}

// ---------------------------------------------------------------------------------------------
// JPEG

interface JpegFrame {
  width: number;
  height: number;
  /** 8x8 blocks over all components, as the decoder allocates them. */
  blocks: number;
}

/** Reads the first SOF segment: size and block count, before any decoding. */
function readJpegFrame(bytes: Uint8Array): JpegFrame | null {
  for (const seg of jpegSegments(bytes)) {
    const isSof = seg.marker >= 0xc0 && seg.marker <= 0xcf && seg.marker !== 0xc4 && seg.marker !== 0xc8 && seg.marker !== 0xcc;
    if (!isSof) continue;
    const p = seg.start;
    if (seg.length < 6) return null;
    const height = (bytes[p + 1] << 8) | bytes[p + 2];
    const width = (bytes[p + 3] << 8) | bytes[p + 4];
    const count = bytes[p + 5];
    if (seg.length < 6 + 3 * count) return null;
    let maxH = 1;
    let maxV = 1;
    for (let c = 0; c < count; c++) {
      const f = bytes[p + 7 + 3 * c];
      maxH = Math.max(maxH, f >> 4);
      maxV = Math.max(maxV, f & 15);
    }
    const mcuCols = Math.ceil(width / (8 * maxH));
    const mcuRows = Math.ceil(height / (8 * maxV));
    let blocks = 0;
    for (let c = 0; c < count; c++) {
      const f = bytes[p + 7 + 3 * c];
      blocks += mcuCols * (f >> 4) * mcuRows * (f & 15);
    }
    return { width, height, blocks };
  }
  return null;
}

interface JpegSegment {
  marker: number;
  /** Offset of the payload (after the 2-byte length). */
  start: number;
  length: number;
}

/** Walks the marker segments that precede the first scan (SOS); stops at anything malformed. */
function* jpegSegments(bytes: Uint8Array): Generator<JpegSegment> {
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return;
    while (bytes[p] === 0xff && p < bytes.length) p++; // fill bytes
    const marker = bytes[p++];
    if (marker === 0xd9 || marker === 0xda) return; // EOI / start of scan
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue; // no payload
    if (p + 2 > bytes.length) return;
    const length = ((bytes[p] << 8) | bytes[p + 1]) - 2;
    if (length < 0 || p + 2 + length > bytes.length) return;
    yield { marker, start: p + 2, length };
    p += 2 + length;
  }
}

function decodeJpeg(bytes: Uint8Array, maxPixels: number, reduceTo: number): RgbImage {
  const frame = readJpegFrame(bytes);
  if (!frame) throw new ImageDecodeError('corrupt or truncated JPEG: no frame header before the image data');
  checkPixelCount(frame.width, frame.height, 'JPEG', maxPixels);
  // Every block costs at least one bit of entropy-coded data (its DC Huffman code), so a file
  // this short cannot hold the frame it declares: refuse before the decoder allocates for it.
  if (bytes.length * 8 < frame.blocks) {
    throw new ImageDecodeError(
      `truncated JPEG: ${bytes.length} bytes cannot hold a ${frame.width}x${frame.height} image`,
    );
  }
  let decoded: ReturnType<typeof decodeJpegPixels>;
  try {
    decoded = decodeJpegPixels(bytes, { scale: dctScale(frame, reduceTo), maxPixels, adobe: hasAdobeSegment(bytes) });
  } catch (err) {
    throw new ImageDecodeError(`corrupt, truncated or unsupported JPEG: ${messageOf(err)}`, { cause: err });
  }
  const { width, height, data } = decoded;
  // libjpeg warns, and fills in grey, where the data ends early; browsers show such a photo, but
  // half a face is no input for recognition. Warnings about a complete file are tolerated.
  if (decoded.warned && !reachesEndOfImage(bytes)) throw new ImageDecodeError('truncated JPEG: the data ends before the end-of-image marker');
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) {
    throw new ImageDecodeError(`corrupt JPEG: decoded to ${width}x${height} with ${data.length} bytes`);
  }
  return { width, height, data };
}

/** An Adobe APP14 segment, which says how the colour components are stored (inverted CMYK). */
function hasAdobeSegment(bytes: Uint8Array): boolean {
  for (const seg of jpegSegments(bytes)) if (seg.marker === 0xee && startsWith(bytes, ascii('Adobe'), seg.start)) return true;
  return false;
}

/** The largest DCT scale-down (1, 2, 4 or 8) that keeps the longer side at least `reduceTo`. */
function dctScale({ width, height }: JpegFrame, reduceTo: number): 1 | 2 | 4 | 8 {
  const longer = Math.max(width, height);
  for (const scale of [8, 4, 2] as const) if (Math.ceil(longer / scale) >= reduceTo) return scale;
  return 1;
}

/**
 * An end-of-image marker (FF D9) after the header segments: the entropy-coded data cannot hold
 * one (a data byte FF is always followed by 00), so the file was not cut short.
 */
function reachesEndOfImage(bytes: Uint8Array): boolean {
  let headersEnd = 2;
  for (const seg of jpegSegments(bytes)) headersEnd = seg.start + seg.length;
  for (let i = bytes.length - 2; i >= headersEnd; i--) if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  return false;
}

/** Orientation from the first APP1 "Exif" segment; 1 when absent or unreadable. */
export function jpegOrientation(bytes: Uint8Array): ExifOrientation {
  for (const seg of jpegSegments(bytes)) {
    if (seg.marker === 0xe1 && startsWith(bytes, [...ascii('Exif'), 0, 0], seg.start)) {
      return tiffOrientation(bytes.subarray(seg.start + 6, seg.start + seg.length));
    }
  }
  return 1;
}

/**
 * Orientation tag (0x0112) of IFD0 in a TIFF structure (the body of an Exif block). A malformed
 * Exif block is ignored, as browsers do: it must not make a decodable photo unreadable.
 */
function tiffOrientation(tiff: Uint8Array): ExifOrientation {
  if (tiff.length < 8) return 1;
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return 1;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  if (view.getUint16(2, little) !== 42) return 1;
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > tiff.length) return 1;
  const entries = view.getUint16(ifd, little);
  for (let i = 0; i < entries; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > tiff.length) return 1;
    if (view.getUint16(e, little) !== 0x0112) continue;
    const type = view.getUint16(e + 2, little);
    const value = type === 3 ? view.getUint16(e + 8, little) : type === 4 ? view.getUint32(e + 8, little) : 0;
    return value >= 1 && value <= 8 ? (value as ExifOrientation) : 1;
  }
  return 1;
}

// ---------------------------------------------------------------------------------------------
// PNG

/** The Buffer class pngjs uses (Node's, or the polyfill inside pngjs/browser.js). */
type PngjsBuffer = { from(buffer: ArrayBufferLike, byteOffset: number, length: number): Uint8Array };
let pngjsBuffer: PngjsBuffer | undefined;

/**
 * pngjs reads its input with Buffer methods (readUInt32BE), so Uint8Array input must be wrapped
 * (no copy). We borrow the class from a 1x1 PNG's pixel buffer instead of naming Node's global,
 * which browser builds of pngjs do not have.
 */
function asPngjsInput(bytes: Uint8Array): Uint8Array {
  pngjsBuffer ??= new PNG({ width: 1, height: 1 }).data.constructor as unknown as PngjsBuffer;
  return pngjsBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodePng(bytes: Uint8Array, maxPixels: number): RgbImage {
  // IHDR is the first chunk: signature(8) length(4) "IHDR"(4) width(4) height(4).
  if (bytes.length < 33 || !startsWith(bytes, ascii('IHDR'), 12)) {
    throw new ImageDecodeError('corrupt or truncated PNG: missing IHDR header');
  }
  const header = new DataView(bytes.buffer, bytes.byteOffset + 16, 10);
  const width = header.getUint32(0);
  const height = header.getUint32(4);
  checkPixelCount(width, height, 'PNG', maxPixels);
  // Deflate expands at most ~1032-fold, so image data this short cannot hold the pixels the
  // header declares: refuse before pngjs reserves (and zero-fills) memory for all of them.
  const channels = PNG_CHANNELS[header.getUint8(9)] ?? 1;
  const pixelBytes = Math.ceil((width * height * channels * header.getUint8(8)) / 8);
  if (pngImageDataBytes(bytes) * DEFLATE_MAX_RATIO < pixelBytes) {
    throw new ImageDecodeError(`truncated PNG: ${bytes.length} bytes cannot hold a ${width}x${height} image`);
  }
  let png: { width: number; height: number; data: Uint8Array };
  try {
    // Output is always 8-bit RGBA: pngjs expands grey, palette and 16-bit input.
    png = PNG.sync.read(asPngjsInput(bytes) as Parameters<typeof PNG.sync.read>[0]);
  } catch (err) {
    throw new ImageDecodeError(`corrupt, truncated or unsupported PNG: ${messageOf(err)}`, { cause: err });
  }
  if (png.data.length !== png.width * png.height * 4) {
    throw new ImageDecodeError(`corrupt PNG: decoded to ${png.width}x${png.height} with ${png.data.length} bytes`);
  }
  return fromRgba(png.data, png.width, png.height);
}

/** Samples per pixel of each PNG colour type (grey, RGB, palette, grey + alpha, RGBA). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEFLATE_MAX_RATIO = 1032;

/** Total length of the IDAT chunks (the compressed pixels), as far as the chunk list is intact. */
function pngImageDataBytes(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let total = 0;
  for (let p = 8; p + 12 <= bytes.length; ) {
    const length = view.getUint32(p);
    if (bytes[p + 4] === 0x49 && bytes[p + 5] === 0x44 && bytes[p + 6] === 0x41 && bytes[p + 7] === 0x54) total += Math.min(length, bytes.length - p - 8);
    p += 12 + length;
  }
  return total;
}

/** Orientation from an eXIf chunk placed before the image data; 1 when absent. */
export function pngOrientation(bytes: Uint8Array): ExifOrientation {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = 8; p + 8 <= bytes.length; ) {
    const length = view.getUint32(p);
    const type = String.fromCharCode(bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]);
    if (type === 'IDAT' || type === 'IEND' || p + 12 + length > bytes.length) return 1;
    if (type === 'eXIf') return tiffOrientation(bytes.subarray(p + 8, p + 8 + length));
    p += 12 + length;
  }
  return 1;
}

/** DecodeOptions.maxPixels checked: a positive whole number up to MAX_DECODE_PIXELS. */
export function pixelLimit({ maxPixels = MAX_DECODE_PIXELS }: DecodeOptions): number {
  if (!(Number.isInteger(maxPixels) && maxPixels > 0 && maxPixels <= MAX_DECODE_PIXELS)) {
    throw new ImageShapeError(`maxPixels must be a whole number from 1 to ${MAX_DECODE_PIXELS}, got ${maxPixels}`);
  }
  return maxPixels;
}

/** Refuses an empty frame, and one over the pixel limit (ImageTooLargeError), from the header alone. */
export function checkPixelCount(width: number, height: number, format: string, maxPixels: number): void {
  if (width === 0 || height === 0) throw new ImageDecodeError(`corrupt ${format}: header declares ${width}x${height}`);
  if (width * height > maxPixels) throw new ImageTooLargeError(width, height, maxPixels, format);
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// ---------------------------------------------------------------------------------------------
// Construction and validation

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageShapeError(`image size must be positive integers, got ${width}x${height}`);
  }
}

/** Throws ImageShapeError unless img is a well-formed RgbImage. */
export function assertRgbImage(img: RgbImage): void {
  checkSize(img.width, img.height);
  if (!(img.data instanceof Uint8Array) || img.data.length !== img.width * img.height * 3) {
    throw new ImageShapeError(
      `RGB image ${img.width}x${img.height} needs ${img.width * img.height * 3} bytes, got ${img.data?.length}`,
    );
  }
}

/** Copies RGBA pixels (e.g. canvas ImageData) into a new RGB image; alpha is dropped. */
export function fromRgba(data: Uint8Array | Uint8ClampedArray, width: number, height: number): RgbImage {
  checkSize(width, height);
  const n = width * height;
  if (data.length !== n * 4) {
    throw new ImageShapeError(`RGBA ${width}x${height} needs ${n * 4} bytes, got ${data.length}`);
  }
  const rgb = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n * 4; i += 4, j += 3) {
    rgb[j] = data[i];
    rgb[j + 1] = data[i + 1];
    rgb[j + 2] = data[i + 2];
  }
  return { width, height, data: rgb };
}

/** Wraps packed RGB pixels as an image WITHOUT copying: the image shares data's memory. */
export function fromRgb(data: Uint8Array | Uint8ClampedArray, width: number, height: number): RgbImage {
  checkSize(width, height);
  if (data.length !== width * height * 3) {
    throw new ImageShapeError(`RGB ${width}x${height} needs ${width * height * 3} bytes, got ${data.length}`);
  }
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.length);
  return { width, height, data: bytes };
}

// ---------------------------------------------------------------------------------------------
// Geometry: orientation, mirror, crop

/**
 * Pixel (x, y) of the result is read from source pixel (x0 + x*dxx + y*dxy, y0 + x*dyx + y*dyy):
 * the one loop behind mirroring and the eight Exif orientations.
 */
function remapAxes(
  img: RgbImage,
  width: number,
  height: number,
  x0: number,
  y0: number,
  dxx: number,
  dxy: number,
  dyx: number,
  dyy: number,
): RgbImage {
  const src = img.data;
  const out = new Uint8Array(width * height * 3);
  const stepX = 3 * (dxx + dyx * img.width); // source offset step per output column
  const stepY = 3 * (dxy + dyy * img.width); // ... per output row
  let rowStart = 3 * (x0 + y0 * img.width);
  let o = 0;
  for (let y = 0; y < height; y++, rowStart += stepY) {
    for (let x = 0, s = rowStart; x < width; x++, s += stepX, o += 3) {
      out[o] = src[s];
      out[o + 1] = src[s + 1];
      out[o + 2] = src[s + 2];
    }
  }
  return { width, height, data: out };
}

/**
 * Turns a stored image upright for its Exif orientation: 2 mirror, 3 rotate 180, 4 flip
 * vertically, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 anticlockwise.
 * Orientation 1 returns the image itself.
 */
export function applyOrientation(img: RgbImage, orientation: ExifOrientation): RgbImage {
  const w = img.width;
  const h = img.height;
  switch (orientation) {
    case 1: return img;
    case 2: return remapAxes(img, w, h, w - 1, 0, -1, 0, 0, 1);
    case 3: return remapAxes(img, w, h, w - 1, h - 1, -1, 0, 0, -1);
    case 4: return remapAxes(img, w, h, 0, h - 1, 1, 0, 0, -1);
    case 5: return remapAxes(img, h, w, 0, 0, 0, 1, 1, 0);
    case 6: return remapAxes(img, h, w, 0, h - 1, 0, 1, -1, 0);
    case 7: return remapAxes(img, h, w, w - 1, h - 1, 0, -1, -1, 0);
    case 8: return remapAxes(img, h, w, w - 1, 0, 0, -1, 1, 0);
  }
}

/** Left-right mirror image (a new image). */
export function mirrorImage(img: RgbImage): RgbImage {
  assertRgbImage(img);
  return applyOrientation(img, 2);
}

/** Copies the integer rectangle (x, y, width, height), which must lie inside the image. */
export function cropImage(img: RgbImage, x: number, y: number, width: number, height: number): RgbImage {
  assertRgbImage(img);
  checkSize(width, height);
  if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x + width > img.width || y + height > img.height) {
    throw new ImageShapeError(
      `crop (${x}, ${y}) ${width}x${height} does not lie inside the ${img.width}x${img.height} image`,
    );
  }
  const out = new Uint8Array(width * height * 3);
  const rowBytes = width * 3;
  for (let r = 0; r < height; r++) {
    const s = ((y + r) * img.width + x) * 3;
    out.set(img.data.subarray(s, s + rowBytes), r * rowBytes);
  }
  return { width, height, data: out };
}

// ---------------------------------------------------------------------------------------------
// Resampling

/** Per-output-sample source taps along one axis: taps[i*n + k] with weights[i*n + k]. */
interface AxisTaps {
  perSample: number;
  index: Int32Array;
  weight: Float32Array;
}

/**
 * Taps for resampling srcN samples to dstN with pixel centres at i + 0.5: linear interpolation
 * (2 taps, edge clamped) unless shrinking by more than 2x, where each output averages the
 * source interval it covers, weighting partially covered pixels by their overlap (box filter),
 * so thumbnails don't alias.
 */
function axisTaps(srcN: number, dstN: number): AxisTaps {
  const ratio = srcN / dstN;
  const area = ratio > 2;
  const perSample = area ? Math.ceil(ratio) + 1 : 2;
  const index = new Int32Array(dstN * perSample);
  const weight = new Float32Array(dstN * perSample);
  for (let i = 0; i < dstN; i++) {
    const base = i * perSample;
    if (area) {
      const lo = i * ratio;
      const hi = Math.min((i + 1) * ratio, srcN);
      for (let k = 0, j = Math.floor(lo); k < perSample; k++, j++) {
        index[base + k] = Math.min(j, srcN - 1);
        weight[base + k] = Math.max(0, Math.min(hi, j + 1) - Math.max(lo, j)) / (hi - lo);
      }
    } else {
      const s = Math.min(Math.max((i + 0.5) * ratio - 0.5, 0), srcN - 1);
      const j = Math.floor(s);
      index[base] = j;
      index[base + 1] = Math.min(j + 1, srcN - 1);
      weight[base] = 1 - (s - j);
      weight[base + 1] = s - j;
    }
  }
  return { perSample, index, weight };
}

/**
 * Resizes to width x height. Bilinear (pixel-centre aligned, edges clamped) when enlarging or
 * shrinking by up to 2x; area averaging along an axis shrunk by more than 2x.
 */
export function resizeBilinear(img: RgbImage, width: number, height: number): RgbImage {
  assertRgbImage(img);
  checkSize(width, height);
  const tx = axisTaps(img.width, width);
  const ty = axisTaps(img.height, height);
  const src = img.data;
  // Horizontal pass: every source row -> width samples (float, so the vertical pass doesn't round twice).
  const rows = new Float32Array(img.height * width * 3);
  for (let y = 0, o = 0; y < img.height; y++) {
    const rowBase = y * img.width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      let r = 0, g = 0, b = 0;
      for (let k = x * tx.perSample, end = k + tx.perSample; k < end; k++) {
        const w = tx.weight[k];
        const s = rowBase + tx.index[k] * 3;
        r += w * src[s];
        g += w * src[s + 1];
        b += w * src[s + 2];
      }
      rows[o] = r;
      rows[o + 1] = g;
      rows[o + 2] = b;
    }
  }
  // Vertical pass; storing into a Uint8ClampedArray rounds and clamps.
  const out = new Uint8ClampedArray(width * height * 3);
  const rowLen = width * 3;
  const acc = new Float32Array(rowLen);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    for (let k = y * ty.perSample, end = k + ty.perSample; k < end; k++) {
      const w = ty.weight[k];
      if (w === 0) continue;
      const s = ty.index[k] * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += w * rows[s + i];
    }
    out.set(acc, y * rowLen);
  }
  return { width, height, data: new Uint8Array(out.buffer) };
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Encodes as an 8-bit RGB PNG (the bytes of a .png file). */
export function encodePng(img: RgbImage): Uint8Array {
  assertRgbImage(img);
  // pngjs only reads width, height and data from its first argument.
  const source = { width: img.width, height: img.height, data: img.data } as unknown as PNG;
  const file = PNG.sync.write(source, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
}
