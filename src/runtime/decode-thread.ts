/**
 * Decoding off the caller's thread (Node, Deno, Bun): toRgbImage hands files and encoded bytes
 * to one shared worker thread (decode-worker.ts), so that a 24-megapixel JPEG does not stall the
 * event loop. The thread starts on first use and keeps the process alive only while a decode
 * is waiting; a thread that dies fails its waiting calls and is replaced on the next one.
 */
import type { Worker } from 'node:worker_threads';
import { DisposedError } from '../errors.js';
import type { DecodeOptions, RgbImage } from '../image.js';
import { siblingModule, startWorker } from '../node-worker.js';
import type { DecodeCall, DecodeInput, DecodeReply, DecoderSetup } from './decode-worker.js';
import { rebuildError } from './pool.js';

interface DecodeThread {
  worker: Worker;
  waiting: Map<number, { resolve: (image: RgbImage) => void; reject: (error: Error) => void }>;
}

let thread: DecodeThread | undefined;
let nextId = 0;

function startThread(): DecodeThread {
  const worker = startWorker(siblingModule('decode-worker', import.meta.url), { role: 'image-decoder' } satisfies DecoderSetup);
  const started: DecodeThread = { worker, waiting: new Map() };
  worker.on('message', (reply: DecodeReply) => {
    const pending = started.waiting.get(reply.id);
    if (!pending) return;
    started.waiting.delete(reply.id);
    if (started.waiting.size === 0) worker.unref();
    if ('error' in reply) pending.reject(rebuildError(reply.error, 'the image-decoding thread'));
    else pending.resolve(reply.image);
  });
  const fail = (error: Error) => {
    if (thread === started) thread = undefined;
    for (const { reject } of started.waiting.values()) reject(error);
    started.waiting.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new DisposedError(`the image-decoding thread exited with code ${code}`)));
  return started;
}

/** Decodes a file or encoded bytes in the decoding thread (bytes are copied to it, pixels transferred back). */
export function decodeOffThread(input: DecodeInput, options: DecodeOptions): Promise<RgbImage> {
  thread ??= startThread();
  const { worker, waiting } = thread;
  const id = nextId++;
  return new Promise<RgbImage>((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    worker.ref();
    worker.postMessage({ id, input, options } satisfies DecodeCall);
  });
}
