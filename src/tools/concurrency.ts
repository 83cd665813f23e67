/**
 * The concurrency check behind `npm run concurrency` (scripts/concurrency.ts): many overlapping
 * calls of one FaceRecognizer and of a RecognizerPool must give the answers of sequential calls,
 * bit for bit, and dispose()/close() while calls are pending must end each pending call in a
 * DisposedError (never another error, a hang or a wrong answer), leaving the library usable.
 *
 * The jobs are the bundled sample photos: detectFaces, embedFaces and embedLargestFace of each
 * photo and verify of each pair. A FaceRecognizer on this thread answers every distinct job once,
 * one after the other: the reference. Then, with seeded random jobs and delays:
 *
 *   1. `recognizer`: `calls` overlapping async callers of one FaceRecognizer (each decodes its
 *      photos with the server entry's async toRgbImage, waits a random few milliseconds, calls);
 *   2. `pool`: `calls` calls sent at once to a RecognizerPool of `poolSize` workers (photos as
 *      file paths, bytes or decoded pixels, at random);
 *   3. `recognizerDispose`: `disposeCalls` callers of a new recognizer, disposed once the first
 *      of them has its answer (the others are waiting);
 *   4. `poolDispose`: `disposeCalls` calls to a new pool, closed once the first answer is in;
 *
 * then a new recognizer and a new pool must still answer correctly (`usableAfter`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DisposedError } from '../errors.js';
import { FaceRecognizer } from '../face/recognizer.js';
import { decodeImage, type RgbImage } from '../image.js';
import { seededRandom } from '../math/random.js';
import { RecognizerPool, type PoolImage } from '../runtime/pool.js';
import { toRgbImage } from '../runtime/server.js';

const SAMPLES = fileURLToPath(new URL('../../demo/samples/', import.meta.url));

export interface ConcurrencyOptions {
  /** Overlapping calls on the recognizer, and again on the pool. */
  calls: number;
  poolSize: number;
  /** Calls pending when a recognizer is disposed, and again when a pool is closed. */
  disposeCalls: number;
  /** Detector input size of every recognizer and pool. */
  inputSize: number;
  seed: number;
  log?: (line: string) => void;
}

export interface OverlapReport {
  calls: number;
  /** Answers that differ from the sequential one. */
  mismatches: number;
  /** Calls that failed (none should). */
  errors: number;
}

export interface DisposeReport {
  /** Calls pending when dispose()/close() was called. */
  calls: number;
  /** Answered before the dispose, and equal to the sequential answer. */
  answered: number;
  /** Answered, but not with the sequential answer (none should be). */
  wrongAnswers: number;
  /** Ended in a DisposedError (a MobileIdError). */
  typedErrors: number;
  /** Ended in any other error (none should). */
  otherErrors: number;
}

export interface ConcurrencyReport {
  /** Distinct jobs answered sequentially for reference. */
  jobs: number;
  recognizer: OverlapReport;
  pool: OverlapReport & { size: number };
  recognizerDispose: DisposeReport;
  poolDispose: DisposeReport;
  /** A recognizer and a pool made after the disposals answer as the reference does. */
  usableAfter: boolean;
  /** Everything as it should be: no mismatch, no untyped error, every call accounted for. */
  ok: boolean;
  seconds: number;
}

type Method = 'detectFaces' | 'embedFaces' | 'embedLargestFace' | 'verify';

/** One distinct call: a method and the sample photos it takes. */
interface Job {
  method: Method;
  photos: number[];
}

interface Photo {
  file: string;
  bytes: Uint8Array;
  pixels: RgbImage;
}

function loadPhotos(): Photo[] {
  return readdirSync(SAMPLES).filter((f) => f.endsWith('.jpg')).sort().map((name) => {
    const file = path.join(SAMPLES, name);
    const bytes = new Uint8Array(readFileSync(file));
    return { file, bytes, pixels: decodeImage(bytes) };
  });
}

function jobsFor(photoCount: number): Job[] {
  const singles = (['detectFaces', 'embedFaces', 'embedLargestFace'] as const).flatMap((method) => Array.from({ length: photoCount }, (_, p) => ({ method, photos: [p] })));
  const pairs = Array.from({ length: photoCount }, (_, a) => Array.from({ length: photoCount - a - 1 }, (_, i) => ({ method: 'verify' as const, photos: [a, a + 1 + i] }))).flat();
  return [...singles, ...pairs];
}

/**
 * An answer as text, to compare bit for bit: typed arrays as their numbers (float32 values
 * print exactly), without the timings, which differ from call to call.
 */
export function answerKey(answer: unknown): string {
  return JSON.stringify(answer, (key, value) => (key === 'timings' ? undefined : ArrayBuffer.isView(value) ? Array.from(value as Float32Array) : value));
}

/** What the jobs call: a FaceRecognizer (images decoded) or a RecognizerPool (PoolImages). */
interface Recognizing<I> {
  detectFaces(image: I): unknown;
  embedFaces(image: I): unknown;
  embedLargestFace(image: I): unknown;
  verify(imageA: I, imageB: I): unknown;
}

function callJob<I>(target: Recognizing<I>, job: Job, images: I[]): unknown {
  return job.method === 'verify' ? target.verify(images[0], images[1]) : target[job.method](images[0]);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Resolves as soon as one call has ended (a dispose then meets the others pending). */
const firstSettled = (calls: Promise<unknown>[]) => Promise.race(calls.map((call) => call.catch(() => undefined)));

export async function checkConcurrency(options: ConcurrencyOptions): Promise<ConcurrencyReport> {
  const log = options.log ?? ((line: string) => console.error(line));
  const started = performance.now();
  const random = seededRandom(options.seed);
  const pick = (n: number) => Math.floor(random() * n);
  const detector = { inputSize: options.inputSize };
  const photos = loadPhotos();
  const jobs = jobsFor(photos.length);

  const reference = await FaceRecognizer.create({ detector });
  const expected = jobs.map((job) => answerKey(callJob(reference, job, job.photos.map((p) => photos[p].pixels))));
  log(`concurrency: ${jobs.length} jobs answered sequentially (${photos.length} photos, detector at ${options.inputSize})`);

  // an async caller as a server has one: decode (awaited), a random pause, the call
  const recognizerCaller = async (recognizer: FaceRecognizer, job: Job, delayMs: number) => {
    const images = await Promise.all(job.photos.map((p) => toRgbImage(photos[p].bytes)));
    await pause(delayMs);
    return callJob(recognizer, job, images);
  };
  const poolImage = (p: number): PoolImage => [photos[p].file, photos[p].bytes, photos[p].pixels][pick(3)];
  const randomJobs = (count: number) => Array.from({ length: count }, () => pick(jobs.length));

  const recognizerJobs = randomJobs(options.calls);
  const recognizer = await FaceRecognizer.create({ detector });
  const recognizerReport = await overlap(recognizerJobs, expected, (j) => recognizerCaller(recognizer, jobs[j], pick(20)));
  log(`recognizer: ${JSON.stringify(recognizerReport)}`);

  const poolJobs = randomJobs(options.calls);
  const pool = await RecognizerPool.create({ size: options.poolSize, detector });
  const poolReport = { size: pool.size, ...(await overlap(poolJobs, expected, (j) => callJob(pool, jobs[j], jobs[j].photos.map(poolImage)))) };
  await pool.close();
  log(`pool: ${JSON.stringify(poolReport)}`);

  const doomed = await FaceRecognizer.create({ detector });
  const doomedJobs = randomJobs(options.disposeCalls);
  const doomedCalls = doomedJobs.map((j) => recognizerCaller(doomed, jobs[j], pick(20)));
  await firstSettled(doomedCalls);
  doomed.dispose();
  const recognizerDispose = await settle(doomedJobs, expected, doomedCalls);
  log(`recognizer disposed with calls pending: ${JSON.stringify(recognizerDispose)}`);

  const closing = await RecognizerPool.create({ size: options.poolSize, detector });
  const closingJobs = randomJobs(options.disposeCalls);
  const closingCalls = closingJobs.map((j) => callJob(closing, jobs[j], jobs[j].photos.map(poolImage)) as Promise<unknown>);
  await firstSettled(closingCalls);
  await closing.close();
  const poolDispose = await settle(closingJobs, expected, closingCalls);
  log(`pool closed with calls pending: ${JSON.stringify(poolDispose)}`);

  const usableAfter = await stillUsable(jobs, expected, photos, detector, recognizer);
  recognizer.dispose();
  reference.dispose();
  log(`usable after the disposals: ${usableAfter}`);

  const overlapsOk = [recognizerReport, poolReport].every((r) => r.mismatches === 0 && r.errors === 0);
  const disposalsOk = [recognizerDispose, poolDispose].every((r) => r.wrongAnswers === 0 && r.otherErrors === 0 && r.answered + r.typedErrors === r.calls);
  return {
    jobs: jobs.length,
    recognizer: recognizerReport,
    pool: poolReport,
    recognizerDispose,
    poolDispose,
    usableAfter,
    ok: overlapsOk && disposalsOk && usableAfter,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Starts every call at once and compares each answer with the sequential one. */
async function overlap(jobIndexes: number[], expected: string[], call: (job: number) => unknown): Promise<OverlapReport> {
  const outcomes = await Promise.allSettled(jobIndexes.map(async (j) => call(j)));
  return {
    calls: outcomes.length,
    mismatches: outcomes.filter((o, i) => o.status === 'fulfilled' && answerKey(o.value) !== expected[jobIndexes[i]]).length,
    errors: outcomes.filter((o) => o.status === 'rejected').length,
  };
}

/** Sorts the outcomes of calls pending at a dispose: right answers, DisposedErrors, anything else. */
async function settle(jobIndexes: number[], expected: string[], calls: Promise<unknown>[]): Promise<DisposeReport> {
  const outcomes = await Promise.allSettled(calls);
  const report: DisposeReport = { calls: calls.length, answered: 0, wrongAnswers: 0, typedErrors: 0, otherErrors: 0 };
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') {
      if (answerKey(outcome.value) === expected[jobIndexes[i]]) report.answered++;
      else report.wrongAnswers++;
    } else if (outcome.reason instanceof DisposedError) report.typedErrors++; // a MobileIdError
    else report.otherErrors++;
  });
  return report;
}

/** The recognizer that lived through the disposals, a new recognizer and a new pool answer every job kind right. */
async function stillUsable(jobs: Job[], expected: string[], photos: Photo[], detector: { inputSize: number }, survivor: FaceRecognizer): Promise<boolean> {
  const sample = (['detectFaces', 'embedFaces', 'embedLargestFace', 'verify'] as const).map((method) => jobs.findIndex((job) => job.method === method));
  const fresh = await FaceRecognizer.create({ detector });
  const pool = await RecognizerPool.create({ size: 1, detector });
  try {
    const answers = await Promise.all(
      sample.flatMap((j) => {
        const pixels = jobs[j].photos.map((p) => photos[p].pixels);
        return [callJob(survivor, jobs[j], pixels), callJob(fresh, jobs[j], pixels), callJob(pool, jobs[j], pixels)].map(async (answer) => answerKey(await answer) === expected[j]);
      }),
    );
    return answers.every(Boolean);
  } finally {
    fresh.dispose();
    await pool.close();
  }
}
