/**
 * The image-decoding thread of the Node/Deno/Bun entry (decode-thread.ts): reads a photo file or
 * takes its bytes, decodes it (decodeImage) and hands the pixels back without a copy. A module
 * of its own (dist/decode-worker.js), so that the thread loads the decoders and nothing more.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { decodeImage, type DecodeOptions, type RgbImage } from '../image.js';
import { readPhoto, sendableError, type SentError } from './worker-io.js';

export interface DecoderSetup {
  role: 'image-decoder';
}

/** A file (a path, or a file: URL's href) or encoded bytes. */
export type DecodeInput = { path: string; isUrl: boolean } | { bytes: Uint8Array };

export interface DecodeCall {
  id: number;
  input: DecodeInput;
  options: DecodeOptions;
}

export type DecodeReply = { id: number; image: RgbImage } | { id: number; error: SentError };

async function decodeCall({ input, options }: DecodeCall): Promise<RgbImage> {
  const bytes = 'bytes' in input ? input.bytes : await readPhoto(input.isUrl ? new URL(input.path) : input.path, input.path);
  const image = decodeImage(bytes, options);
  // the pixels travel by transfer: they must own their whole buffer
  return image.data.byteLength === image.data.buffer.byteLength ? image : { ...image, data: image.data.slice() };
}

function serve(): void {
  const port = parentPort!;
  port.on('message', async (call: DecodeCall) => {
    try {
      const image = await decodeCall(call);
      port.postMessage({ id: call.id, image } satisfies DecodeReply, [image.data.buffer as ArrayBuffer]);
    } catch (error) {
      port.postMessage({ id: call.id, error: sendableError(error) } satisfies DecodeReply);
    }
  });
}

if (!isMainThread && (workerData as DecoderSetup | undefined)?.role === 'image-decoder') serve();
