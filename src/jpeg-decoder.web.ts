/**
 * JPEG pixels for the browser and edge bundles (scripts/build.ts swaps jpeg-decoder.ts for this
 * file there): jpeg-js, pure JavaScript, no file system and no wasm to locate. Browsers decode
 * photos with createImageBitmap in toRgbImage; this serves bytes passed to the recognizer and
 * edge functions. It cannot decode at a reduced scale.
 */
import jpeg from 'jpeg-js';
import type { JpegDecodeRequest, JpegPixels } from './jpeg-decoder.js';

export const JPEG_DECODER_NAME = 'jpeg-js 0.4 (JavaScript)';

/**
 * jpeg-js's own bookkeeping cap. Within MAX_DECODE_PIXELS (65 megapixels) jpeg-js's worst case is a 4-component 4:4:4 JPEG: 256 B of coefficients +
 * 1 B of component plane per sample per component, then a colour plane and the RGB output
 * (~1.65 GiB for 8000x8000); 3-component 4:4:4 needs ~1.25 GiB.
 */
const JPEG_MAX_MEMORY_MB = 1700;

/** Decodes at full size (request.scale is not supported here); throws jpeg-js's error on bad data. */
export function decodeJpegPixels(bytes: Uint8Array, { maxPixels }: JpegDecodeRequest): JpegPixels {
  const { width, height, data } = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    tolerantDecoding: true,
    maxResolutionInMP: maxPixels / 1e6,
    maxMemoryUsageInMB: JPEG_MAX_MEMORY_MB,
  });
  return { width, height, data, warned: false };
}
