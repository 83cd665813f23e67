/**
 * Entry for runtimes with a file system: Node (ESM and CommonJS), Deno and Bun. The wasm
 * kernels and the bundled models are read from the package's dist/ folder.
 *
 *   import { init, toRgbImage, LandmarkNet, StudentNet, loadBundledModel } from 'mobileid';
 *   const engine = await init();
 *   const image = await toRgbImage('photo.jpg');
 */
import type { Engine, WasmSource } from '../engine/engine.js';
import { FileReadError } from '../errors.js';
import { decodeImage, type DecodeOptions, type RgbImage } from '../image.js';
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
 * Decodes or wraps any ImageSource into an upright RGB image (JPEG/PNG via pure-JS decoders);
 * options.maxPixels refuses larger photos (ImageTooLargeError) before decoding them.
 */
export async function toRgbImage(input: ImageSource, options: DecodeOptions = {}): Promise<RgbImage> {
  if (typeof input === 'string' || input instanceof URL) {
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(input).catch((cause: unknown) => {
      throw FileReadError.from(input instanceof URL ? input.href : input, cause);
    });
    return decodeImage(new Uint8Array(bytes), options);
  }
  const bytes = asBytes(input);
  if (bytes) return decodeImage(bytes, options);
  if (typeof Blob !== 'undefined' && input instanceof Blob) return decodeImage(new Uint8Array(await input.arrayBuffer()), options);
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
