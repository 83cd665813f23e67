/**
 * What the package's worker threads share (pool-worker.ts, decode-worker.ts): reading a photo's
 * bytes off the caller's thread, and sending an error back so that the caller can rebuild it as
 * its own class (rebuildError in pool.ts).
 */
import { readFile } from 'node:fs/promises';
import { FileReadError } from '../errors.js';

export interface SentError {
  name: string;
  message: string;
  /** The error's own fields (e.g. FileReadError's path and code). */
  properties: Record<string, unknown>;
}

/** A file's bytes; a failed read as FileReadError naming `shownAs` (the path or URL the caller gave). */
export async function readPhoto(file: string | URL, shownAs = String(file)): Promise<Uint8Array> {
  const bytes = await readFile(file).catch((cause: unknown) => {
    throw FileReadError.from(shownAs, cause);
  });
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The error as plain data a worker can post: its name, message and primitive fields. */
export function sendableError(error: unknown): SentError {
  const e = error instanceof Error ? error : new Error(String(error));
  const properties = Object.fromEntries(Object.entries(e).filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v) || v === undefined));
  return { name: e.name, message: e.message, properties };
}
