/**
 * Entry for edge runtimes that refuse to compile wasm from bytes: Cloudflare workerd and
 * Vercel Edge. The kernels arrive as a compiled WebAssembly.Module imported next to this file
 * (the bundler of the platform collects it); models are passed as bytes, since an edge
 * function has no file system to read them from:
 *
 *   import { init, toRgbImage, StudentNet } from 'mobileid';
 *   import studentBytes from 'mobileid/models/mobileid-student.int8.mobileid';  // a Data module (wrangler rule)
 *   const engine = await init();
 *   const student = new StudentNet(engine.loadModel(new Uint8Array(studentBytes)));
 *   const image = await toRgbImage(await request.arrayBuffer());
 */
import type { Engine, WasmSource } from '../engine/engine.js';
import { decodeImage, sniffImageFormat, type DecodeOptions, type RgbImage } from '../image.js';
import { initWith } from './init.js';
import { decodePngWithPlatform } from './png-stream.js';
import { ImageInputError, asBytes, describeInput, fromRawPixels, isRawPixels, type RawPixels } from './pixels.js';
import bundledWasm from './mobileid.wasm';

export * from './api.js';

/** Encoded JPEG/PNG bytes (Uint8Array, ArrayBuffer, Blob, a Response body) or raw pixels. */
export type ImageSource = Uint8Array | ArrayBuffer | ArrayBufferView | Blob | Response | RawPixels;

/** The shared Engine, instantiated from the imported module unless `source` is given. */
export function init(source?: WasmSource): Promise<Engine> {
  return initWith(() => bundledWasm, source);
}

/** JPEG with the pure-JS decoder, PNG with the platform's inflate (no pngjs in edge bundles). */
const decode = (bytes: Uint8Array, options: DecodeOptions): Promise<RgbImage> | RgbImage =>
  sniffImageFormat(bytes) === 'png' ? decodePngWithPlatform(bytes, options) : decodeImage(bytes, options);

/** Decodes or wraps any ImageSource into an upright RGB image; options.maxPixels refuses larger photos (ImageTooLargeError). */
export async function toRgbImage(input: ImageSource, options: DecodeOptions = {}): Promise<RgbImage> {
  const bytes = asBytes(input);
  if (bytes) return decode(bytes, options);
  if (input instanceof Blob || input instanceof Response) return decode(new Uint8Array(await input.arrayBuffer()), options);
  if (isRawPixels(input)) return fromRawPixels(input);
  throw new ImageInputError(
    `toRgbImage cannot read a ${describeInput(input)}: pass encoded JPEG/PNG bytes, a Blob or Response, or { data, width, height } pixels`,
  );
}
