/**
 * Entry for runtimes with a file system: Node (ESM and CommonJS), Deno and Bun. The wasm
 * kernels and the bundled models are read from the package's dist/ folder.
 *
 *   import { init, toRgbImage, LandmarkNet, StudentNet, loadBundledModel } from 'mobileid';
 *   const engine = await init();
 *   const image = await toRgbImage('photo.jpg');
 */
import type { Engine, WasmSource } from '../engine/engine.js';
import type { DecodeOptions, RgbImage } from '../image.js';
import { decodeOffThread } from './decode-thread.js';
import { initWith } from './init.js';
import { ImageInputError, asBytes, describeInput, fromRawPixels, isRawPixels, type RawPixels } from './pixels.js';

export * from './api.js';

/** A file path or file: URL, encoded JPEG/PNG bytes (Buffer, Uint8Array, ArrayBuffer, Blob), or raw pixels. */
export type ImageSource = string | URL | Uint8Array | ArrayBuffer | ArrayBufferView | Blob | RawPixels;

/** The shared Engine; the wasm is read from next to this module unless `source` is given. */
export function init(source?: WasmSource): Promise<Engine> {
  return initWith(() => undefined, source);
}

/**
 * Decodes or wraps any ImageSource into an upright RGB image. Files and encoded bytes are
 * decoded in a worker thread (JPEG with libjpeg-turbo, PNG with pngjs), so the event loop runs
 * on meanwhile; options.maxPixels refuses larger photos (ImageTooLargeError) before decoding
 * them, options.reduceTo decodes large JPEGs at a reduced scale.
 */
export async function toRgbImage(input: ImageSource, options: DecodeOptions = {}): Promise<RgbImage> {
  if (typeof input === 'string') return decodeOffThread({ path: input, isUrl: false }, options);
  if (input instanceof URL) return decodeOffThread({ path: input.href, isUrl: true }, options);
  const bytes = asBytes(input);
  if (bytes) return decodeOffThread({ bytes }, options);
  if (typeof Blob !== 'undefined' && input instanceof Blob) return decodeOffThread({ bytes: new Uint8Array(await input.arrayBuffer()) }, options);
  if (isRawPixels(input)) return fromRawPixels(input);
  throw new ImageInputError(
    `toRgbImage cannot read a ${describeInput(input)}: pass a file path or URL, encoded JPEG/PNG bytes, a Blob, or { data, width, height } pixels`,
  );
}

export { RecognizerPool, PoolOptionError, PoolWorkerError, type PoolImage, type PoolOptions } from './pool.js';

/**
 * What `mobileid/engine` exports, carried by the Node bundles so that the subpath's files
 * (dist/engine.js, engine.cjs, made by scripts/build.ts) re-export it: one copy of every class,
 * so an error thrown through either import is an instance of the other's MobileIdError. Not API.
 */
export * as __engine from './engine.js';
