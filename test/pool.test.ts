/**
 * RecognizerPool: the same answers as a FaceRecognizer on the caller's thread, for paths, bytes
 * and pixels; typed errors from the workers; matchers with the model's rule; calls after close();
 * arguments that cannot be sent to a worker; a worker that stops; the student chosen by precision.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisposedError, FileReadError } from '../src/errors.js';
import { FaceRecognizer } from '../src/face/recognizer.js';
import { decodeImage, ImageDecodeError } from '../src/image.js';
import { PoolOptionError, PoolWorkerError, RecognizerPool } from '../src/runtime/pool.js';
import type { Worker } from 'node:worker_threads';

const sample = (name: string) => fileURLToPath(new URL(`../demo/samples/${name}`, import.meta.url));

let pool: RecognizerPool;
let recognizer: FaceRecognizer;
beforeAll(async () => {
  [pool, recognizer] = await Promise.all([RecognizerPool.create({ size: 2 }), FaceRecognizer.create()]);
}, 120_000);
afterAll(async () => {
  await pool?.close();
  recognizer?.dispose();
});

describe('RecognizerPool', () => {
  it('gives what FaceRecognizer gives, for a path, bytes and decoded pixels, spread over its workers', async () => {
    const bytes = new Uint8Array(readFileSync(sample('group1.jpg')));
    const expected = recognizer.embedFaces(bytes, { mirror: true });
    const answers = await Promise.all([
      pool.embedFaces(sample('group1.jpg'), { mirror: true }),
      pool.embedFaces(bytes, { mirror: true }),
      pool.embedFaces(decodeImage(bytes), { mirror: true }),
    ]);
    for (const faces of answers) {
      expect(faces.map((f) => f.face.box)).toEqual(expected.map((f) => f.face.box));
      faces.forEach((f, i) => expect(Array.from(f.embedding)).toEqual(Array.from(expected[i].embedding)));
      expect(faces[0].model).toEqual(recognizer.model);
    }
    const verified = await pool.verify(sample('a.jpg'), sample('a-variant.jpg'));
    expect(verified.score).toBeCloseTo(recognizer.verify(new Uint8Array(readFileSync(sample('a.jpg'))), new Uint8Array(readFileSync(sample('a-variant.jpg')))).score!, 6);
    expect(pool.size).toBe(2);
    expect(pool.model).toEqual(recognizer.model);
    expect(pool.verification).toEqual(recognizer.verification);
  }, 120_000);

  it('passes on the workers\' typed errors as the same classes and stays usable', async () => {
    const missing = await pool.detectFaces('/no/such/photo.jpg').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(FileReadError);
    expect(missing).toMatchObject({ name: 'FileReadError', code: 'ENOENT', path: '/no/such/photo.jpg' });
    await expect(pool.detectFaces(new Uint8Array([1, 2, 3]))).rejects.toThrow(ImageDecodeError);
    expect(await pool.detectFaces(sample('b.jpg'))).toHaveLength(1);
  }, 60_000);

  it('makes matchers with the model\'s rule, like the recognizer', () => {
    const fromPool = pool.createMatcher();
    const fromRecognizer = recognizer.createMatcher();
    expect({ ...fromPool }).toEqual({ ...fromRecognizer });
  });

  it('refuses a bad size and calls after close()', async () => {
    await expect(RecognizerPool.create({ size: 0 })).rejects.toThrow(PoolOptionError);
    const small = await RecognizerPool.create({ size: 1 });
    const pending = expect(small.detectFaces(sample('group5.jpg'))).rejects.toThrow(DisposedError);
    await small.close();
    await pending;
    await expect(small.detectFaces(sample('a.jpg'))).rejects.toThrow(DisposedError);
  }, 60_000);

  it('refuses arguments that cannot be sent to a worker with a PoolOptionError, and goes on', async () => {
    const unsendable = { inputSize: 160, onProgress: () => {} } as unknown as Parameters<RecognizerPool['detectFaces']>[1];
    await expect(pool.detectFaces(sample('b.jpg'), unsendable)).rejects.toThrow(PoolOptionError);
    const verifierObject = { verifier: { name: 'mine' } } as unknown as Parameters<RecognizerPool['verify']>[2];
    const refused = pool.verify(sample('a.jpg'), sample('b.jpg'), verifierObject); // a rejected promise, not a throw
    await expect(refused).rejects.toThrow(PoolOptionError);
    expect(await Promise.all([pool.detectFaces(sample('b.jpg')), pool.detectFaces(sample('b.jpg'))])).toEqual([expect.any(Array), expect.any(Array)]);
  }, 60_000);

  it('fails the calls of a worker that stops with PoolWorkerError and replaces the worker', async () => {
    const small = await RecognizerPool.create({ size: 1 });
    try {
      const expected = await small.detectFaces(sample('b.jpg'));
      const pending = small.detectFaces(sample('group5.jpg'));
      // fault injection: the worker thread dies as in a crash or when it runs out of memory
      await (small as unknown as { slots: { worker: Worker }[] }).slots[0].worker.terminate();
      await expect(pending).rejects.toThrow(PoolWorkerError);
      expect(await small.detectFaces(sample('b.jpg'))).toEqual(expected); // answered by the replacement
    } finally {
      await small.close();
    }
  }, 60_000);

  it('keeps calls in its own queue and hands one to each free worker, in order', async () => {
    const files = ['group5.jpg', 'a.jpg', 'b.jpg', 'group1.jpg', 'a.jpg', 'b.jpg'].map(sample);
    const calls = files.map((f) => pool.detectFaces(f));
    const internals = pool as unknown as { slots: { waiting: Map<number, unknown> }[]; queue: unknown[] };
    // a worker busy with a group photo does not collect the calls behind it: they wait in the pool
    expect(internals.slots.map((slot) => slot.waiting.size)).toEqual(internals.slots.map(() => 1));
    expect(internals.queue.length).toBe(files.length - internals.slots.length);
    const answers = await Promise.all(calls);
    expect(answers).toEqual(files.map((f) => recognizer.detectFaces(decodeImage(readFileSync(f)))));
    expect(internals.queue.length).toBe(0);
  }, 60_000);

  it('takes the int8 student by default and the float one at precision f32, as FaceRecognizer', async () => {
    const float = await FaceRecognizer.create({ precision: 'f32' });
    const floatPool = await RecognizerPool.create({ size: 1, precision: 'f32' });
    try {
      expect(pool.model).toEqual(recognizer.model);
      expect(floatPool.model).toEqual(float.model);
      expect(floatPool.model!.fingerprint).not.toBe(pool.model!.fingerprint);
      expect(floatPool.verification).toEqual(float.verification);
    } finally {
      await floatPool.close();
      float.dispose();
    }
  }, 60_000);
});
