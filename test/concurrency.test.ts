// Many overlapping async callers of one FaceRecognizer (the synchronous API behind awaited image
// decoding, as a server uses it) get exactly the answers of sequential calls; dispose() while
// calls are pending makes each of them a DisposedError, never a wrong answer or an untyped error.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisposedError, MobileIdError } from '../src/errors.js';
import { FaceRecognizer } from '../src/face/recognizer.js';
import { seededRandom } from '../src/math/random.js';
import { toRgbImage } from '../src/runtime/server.js';

const photo = (name: string) => new Uint8Array(readFileSync(new URL(`../demo/samples/${name}`, import.meta.url)));
const PHOTOS = ['a.jpg', 'a-variant.jpg', 'b.jpg'].map(photo);
const PAIRS: [number, number][] = [[0, 1], [0, 2], [1, 2], [2, 0]];
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let recognizer: FaceRecognizer;
beforeAll(async () => {
  recognizer = await FaceRecognizer.create();
});
afterAll(() => recognizer.dispose());

/** One caller: decodes both photos (awaited, as from a request), waits a little, verifies. */
async function caller(r: FaceRecognizer, [a, b]: [number, number], delayMs: number) {
  const [imageA, imageB] = await Promise.all([toRgbImage(PHOTOS[a]), toRgbImage(PHOTOS[b])]);
  await pause(delayMs);
  const result = r.verify(imageA, imageB);
  return { score: result.score, same: result.same, embedding: Array.from(r.embedFaces(imageA)[0].embedding) };
}

describe('overlapping calls', () => {
  it('give the answers of sequential calls, bit for bit', async () => {
    const sequential: Awaited<ReturnType<typeof caller>>[] = [];
    for (const pair of PAIRS) sequential.push(await caller(recognizer, pair, 0));
    const random = seededRandom(9);
    const jobs = Array.from({ length: 24 }, (_, i) => ({ pair: i % PAIRS.length, delay: Math.floor(random() * 20) }));
    const overlapping = await Promise.all(jobs.map((job) => caller(recognizer, PAIRS[job.pair], job.delay)));
    overlapping.forEach((result, i) => expect(result).toEqual(sequential[jobs[i].pair]));
  }, 300_000);

  it('pending when the recognizer is disposed end in DisposedError', async () => {
    const doomed = await FaceRecognizer.create();
    const pending = Array.from({ length: 8 }, (_, i) => caller(doomed, PAIRS[i % PAIRS.length], 5 + i));
    doomed.dispose();
    const outcomes = await Promise.allSettled(pending);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(MobileIdError);
      expect(reason).toBeInstanceOf(DisposedError);
    }
    // the other recognizer is untouched
    expect((await caller(recognizer, PAIRS[0], 0)).score).toBeTypeOf('number');
  }, 300_000);
});
