/**
 * Entry for browsers and web workers. mobileid.wasm and the models are fetched from next to
 * this module (`new URL('./mobileid.wasm', import.meta.url)`); when a bundler moves the wasm,
 * pass it to init() (jSquash style):
 *
 *   import { init, toRgbImage } from 'mobileid';
 *   import wasmUrl from 'mobileid/mobileid.wasm?url';              // e.g. Vite
 *   const engine = await init(await WebAssembly.compileStreaming(fetch(wasmUrl)));
 *   const image = await toRgbImage(canvasOrImageBitmapOrFile);
 *
 * Images are decoded by the browser (drawn to a canvas and read back), never by jpeg-js.
 */
import type { Engine, WasmSource } from '../engine/engine.js';
import type { RgbImage } from '../image.js';
import { initWith } from './init.js';
import { ImageInputError, asBytes, describeInput, fromRawPixels, isRawPixels, type RawPixels } from './pixels.js';

export * from './api.js';

/** Anything a canvas can draw, an encoded image (Blob/File or bytes), or raw pixels (ImageData included). */
export type ImageSource =
  | ImageData
  | ImageBitmap
  | HTMLCanvasElement
  | OffscreenCanvas
  | HTMLImageElement
  | HTMLVideoElement
  | VideoFrame
  | Blob
  | Uint8Array
  | ArrayBuffer
  | RawPixels;

/** The shared Engine; the wasm is fetched from next to this module unless `source` is given. */
export function init(source?: WasmSource): Promise<Engine> {
  return initWith(() => undefined, source);
}

const defined = (name: string): boolean => typeof (globalThis as Record<string, unknown>)[name] !== 'undefined';
const isA = (input: unknown, name: string): boolean =>
  defined(name) && input instanceof ((globalThis as Record<string, unknown>)[name] as abstract new (...args: never[]) => unknown);

type Drawable = ImageBitmap | HTMLCanvasElement | OffscreenCanvas | HTMLImageElement | HTMLVideoElement | VideoFrame;

/** Pixels of a drawable source through a 2D canvas (OffscreenCanvas when available, e.g. in workers). */
function readPixels(source: Drawable, width: number, height: number): RgbImage {
  if (!(width > 0 && height > 0)) throw new ImageInputError(`cannot read pixels of an empty ${describeInput(source)} (${width}x${height})`);
  const canvas = defined('OffscreenCanvas') ? new OffscreenCanvas(width, height) : Object.assign(document.createElement('canvas'), { width, height });
  const context = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!context) throw new ImageInputError('this browser gives no 2D canvas context to read pixels with');
  context.drawImage(source as CanvasImageSource, 0, 0);
  return fromRawPixels(context.getImageData(0, 0, width, height));
}

function sizeOf(source: Drawable): [number, number] {
  if (isA(source, 'HTMLImageElement')) return [(source as HTMLImageElement).naturalWidth, (source as HTMLImageElement).naturalHeight];
  if (isA(source, 'HTMLVideoElement')) return [(source as HTMLVideoElement).videoWidth, (source as HTMLVideoElement).videoHeight];
  if (isA(source, 'VideoFrame')) return [(source as VideoFrame).displayWidth, (source as VideoFrame).displayHeight];
  return [(source as ImageBitmap).width, (source as ImageBitmap).height];
}

/** Reads any ImageSource into an upright RGB image; encoded images go through createImageBitmap (Exif orientation applied). */
export async function toRgbImage(input: ImageSource): Promise<RgbImage> {
  if (isRawPixels(input)) return fromRawPixels(input);
  const bytes = asBytes(input);
  const blob = bytes ? new Blob([bytes as Uint8Array<ArrayBuffer>]) : isA(input, 'Blob') ? (input as Blob) : null;
  if (blob) {
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image' });
    } catch (cause) {
      throw new ImageInputError(`the browser cannot decode this image: ${(cause as Error).message}`);
    }
    try {
      return readPixels(bitmap, bitmap.width, bitmap.height);
    } finally {
      bitmap.close();
    }
  }
  for (const name of ['ImageBitmap', 'HTMLCanvasElement', 'OffscreenCanvas', 'HTMLImageElement', 'HTMLVideoElement', 'VideoFrame']) {
    if (isA(input, name)) return readPixels(input as Drawable, ...sizeOf(input as Drawable));
  }
  throw new ImageInputError(
    `toRgbImage cannot read a ${describeInput(input)}: pass ImageData, ImageBitmap, a canvas, an <img>, a Blob/File, encoded bytes or { data, width, height } pixels`,
  );
}
