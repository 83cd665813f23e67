/**
 * PNG decoding with the platform's inflate (DecompressionStream, in browsers, workers, Deno,
 * Bun, Node 18+ and edge runtimes) instead of pngjs, for the edge bundles. Non-interlaced PNGs
 * of every colour type, 8 or 16 bits per sample (what cameras, screenshots and canvases write);
 * interlaced, low-bit-depth or damaged files get an ImageDecodeError. Exif orientation is applied
 * as decodeImage does.
 */
import { ImageDecodeError, applyOrientation, checkPixelCount, pixelLimit, pngOrientation, type DecodeOptions, type RgbImage } from '../image.js';

/** Samples per pixel by colour type: grey, -, RGB, palette, grey+alpha, -, RGBA. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function decodePngWithPlatform(bytes: Uint8Array, options: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = pixelLimit(options);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let depth = 0;
  let colourType = -1;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  for (let p = 8; p + 8 <= bytes.length; ) {
    const length = view.getUint32(p);
    const type = String.fromCharCode(...bytes.subarray(p + 4, p + 8));
    const body = bytes.subarray(p + 8, p + 8 + length);
    if (body.length < length) throw new ImageDecodeError(`truncated PNG: the ${type} chunk runs past the end`);
    if (type === 'IHDR') {
      const h = new DataView(body.buffer, body.byteOffset, body.byteLength);
      [width, height, depth, colourType] = [h.getUint32(0), h.getUint32(4), body[8], body[9]];
      if (body[12] !== 0) throw new ImageDecodeError('interlaced PNG: this build decodes non-interlaced PNGs only');
    } else if (type === 'PLTE') palette = body;
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    p += 12 + length;
  }
  const channels = CHANNELS[colourType];
  if (!width || !height || !channels || (depth !== 8 && depth !== 16) || (colourType === 3 && (!palette || depth !== 8))) {
    throw new ImageDecodeError(`unsupported or corrupt PNG (${width}x${height}, colour type ${colourType}, ${depth} bits): this build reads 8- and 16-bit PNGs`);
  }
  checkPixelCount(width, height, 'PNG', maxPixels);
  let raw: Uint8Array;
  try {
    raw = await inflate(new Uint8Array(await new Blob(idat as Uint8Array<ArrayBuffer>[]).arrayBuffer()));
  } catch (cause) {
    throw new ImageDecodeError(`corrupt PNG: its image data does not inflate (${(cause as Error).message})`, { cause });
  }
  const bpp = (channels * depth) / 8;
  const stride = width * bpp;
  if (raw.length < height * (stride + 1)) throw new ImageDecodeError(`truncated PNG: ${raw.length} bytes of pixels for ${width}x${height}`);
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = rows.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? rows.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? out[i - bpp] : 0;
      const b = up[i];
      const c = i >= bpp ? up[i - bpp] : 0;
      let predicted: number;
      if (filter === 0) predicted = 0;
      else if (filter === 1) predicted = a;
      else if (filter === 2) predicted = b;
      else if (filter === 3) predicted = (a + b) >> 1;
      else if (filter === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw new ImageDecodeError(`corrupt PNG: unknown row filter ${filter}`);
      out[i] = (line[i] + predicted) & 0xff;
    }
  }
  const data = new Uint8Array(width * height * 3);
  const step = depth / 8;
  // 16-bit samples (big-endian) scaled to 8 bits with rounding, as pngjs does
  const sample = depth === 8 ? (at: number) => rows[at] : (at: number) => Math.round((((rows[at] << 8) | rows[at + 1]) * 255) / 65535);
  for (let i = 0; i < width * height; i++) {
    const at = i * bpp;
    if (colourType === 3) data.set(palette!.subarray(rows[at] * 3, rows[at] * 3 + 3), i * 3);
    else if (channels <= 2) data.fill(sample(at), i * 3, i * 3 + 3);
    else for (let k = 0; k < 3; k++) data[i * 3 + k] = sample(at + k * step);
  }
  return applyOrientation({ width, height, data }, pngOrientation(bytes));
}
