/**
 * Image inputs every runtime accepts: raw 8-bit pixels (RGB or RGBA, e.g. an ImageData or any
 * `{ data, width, height }`), and the typed error for inputs a runtime cannot turn into pixels.
 */
import { MobileIdError } from '../errors.js';
import { ImageShapeError, assertRgbImage, fromRgb, fromRgba, type RgbImage } from '../image.js';

/** Packed 8-bit pixels, row-major. `channels` is inferred from data.length when omitted. */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels?: 3 | 4;
}

/** toRgbImage got a value of a kind this runtime's entry does not read (the message lists those it does). */
export class ImageInputError extends MobileIdError {
  override name = 'ImageInputError';
}

export function isRawPixels(input: unknown): input is RawPixels {
  if (typeof input !== 'object' || input === null) return false;
  const { data, width, height } = input as Partial<RawPixels>;
  return (data instanceof Uint8Array || data instanceof Uint8ClampedArray) && typeof width === 'number' && typeof height === 'number';
}

/** RGBA is copied (alpha dropped, not composited); RGB is wrapped without copying. */
export function fromRawPixels({ data, width, height, channels }: RawPixels): RgbImage {
  const pixels = width * height;
  const inferred = channels ?? (data.length === pixels * 4 ? 4 : data.length === pixels * 3 ? 3 : undefined);
  if (inferred === 4) return fromRgba(data, width, height);
  if (inferred === 3) return fromRgb(data, width, height);
  throw new ImageShapeError(`raw pixels ${width}x${height} need ${pixels * 3} (RGB) or ${pixels * 4} (RGBA) bytes, got ${data.length}`);
}

/** Encoded file bytes as a Uint8Array view (no copy), or null when `input` is not bytes. */
export function asBytes(input: unknown): Uint8Array | null {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  return null;
}

/** Short description of an unsupported input for error messages. */
export function describeInput(input: unknown): string {
  if (input === null) return 'null';
  if (typeof input !== 'object') return typeof input;
  return (input as object).constructor?.name ?? 'object';
}

/** Opaque RGBA copy of an RGB image, e.g. for `new ImageData(toRgba(image), image.width, image.height)`. */
export function toRgba(image: RgbImage): Uint8ClampedArray<ArrayBuffer> {
  assertRgbImage(image);
  const pixels = image.width * image.height;
  const rgba = new Uint8ClampedArray(pixels * 4);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    rgba[i * 4] = image.data[j];
    rgba[i * 4 + 1] = image.data[j + 1];
    rgba[i * 4 + 2] = image.data[j + 2];
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}
