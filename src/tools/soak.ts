/**
 * The soak behind `npm run soak` (scripts/soak.ts): long use in one process, on the bundled
 * sample photos.
 *
 *   1. `embeddings` student embeddings of aligned faces: every face of the six photos, plain and
 *      mirrored crops (the library's embedding path: alignment to the student's crop, then the
 *      network; the detection and landmarks done once beforehand, detector at 416);
 *   2. `verifies` FaceRecognizer.verify calls on photo pairs: every pair of the six photos and
 *      their mirror images (decoded once; each call detects, finds landmarks, aligns, embeds and
 *      scores; detector at `inputSize`);
 *   3. `recognizers` FaceRecognizer.create + dispose on one engine (model bytes read once, parsed
 *      and loaded each time); its `identical` says the engine's arena was back to its size before
 *      after every dispose.
 *
 * For each stage: the wasm memory (linear memory size) and the process's resident memory (after
 * a garbage collection) once warmed up (every input seen, recognizers: at least 50 cycles; and
 * 5% of the calls or of `stageSeconds` gone) and at the end, and whether every repeated result is
 * bit-identical to the first of its input. A fresh process then computes each distinct embedding
 * and score once: they must equal the soak's bit for bit. `stageSeconds` caps each stage's time (the report then gives the count
 * reached next to the one asked for).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadBundledModel } from '../engine/assets.js';
import { Engine } from '../engine/engine.js';
import { crc32 } from '../engine/crc32.js';
import { StudentNet } from '../face/networks.js';
import { FaceRecognizer } from '../face/recognizer.js';
import { decodeImage, mirrorImage, type RgbImage } from '../image.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SAMPLES = path.join(REPO, 'demo/samples');

export interface SoakOptions {
  embeddings: number;
  verifies: number;
  recognizers: number;
  /** Detector input size of the verify calls. */
  inputSize: number;
  /** Most seconds one stage may run (default: no limit); a stage stopped by it reports fewer calls. */
  stageSeconds?: number;
  log?: (line: string) => void;
}

export interface MemoryGrowth {
  /** Wasm linear memory, bytes: once warmed up and at the end. */
  wasmWarm: number;
  wasmEnd: number;
  /** Resident set of the process after a garbage collection, MB. */
  rssWarmMb: number;
  rssEndMb: number;
  rssGrowthMb: number;
  /**
   * Growth of what is reachable, MB, after a garbage collection: the JavaScript heap in use, and
   * the memory outside it (ArrayBuffers, wasm memories). Resident growth without either is pages
   * the allocators keep, not objects the library holds.
   */
  heapUsedGrowthMb: number;
  externalGrowthMb: number;
  /** Growth of the JavaScript heap's committed size, MB (V8 resizes its spaces as it warms up). */
  heapTotalGrowthMb: number;
}

interface MemorySample {
  wasm: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

function sampleMemory(engine: Engine): MemorySample {
  gc?.();
  const usage = process.memoryUsage();
  const mb = (bytes: number) => bytes / 2 ** 20;
  return { wasm: engine.wasmMemoryBytes, rss: mb(usage.rss), heapUsed: mb(usage.heapUsed), heapTotal: mb(usage.heapTotal), external: mb(usage.external) };
}

function growth(warm: MemorySample, end: MemorySample): MemoryGrowth {
  return {
    wasmWarm: warm.wasm, wasmEnd: end.wasm, rssWarmMb: round(warm.rss), rssEndMb: round(end.rss), rssGrowthMb: round(end.rss - warm.rss),
    heapUsedGrowthMb: round(end.heapUsed - warm.heapUsed), externalGrowthMb: round(end.external - warm.external),
    heapTotalGrowthMb: round(end.heapTotal - warm.heapTotal),
  };
}

const describeMemory = (m: MemorySample) =>
  `rss ${m.rss.toFixed(0)} MB (heap ${m.heapUsed.toFixed(1)} of ${m.heapTotal.toFixed(1)}, external ${m.external.toFixed(1)}), wasm ${(m.wasm / 2 ** 20).toFixed(1)} MB`;

export interface StageReport extends MemoryGrowth {
  /** Calls asked for, and made (fewer when the stage hit stageSeconds). */
  requested: number;
  count: number;
  /** Distinct inputs cycled through. */
  distinct: number;
  /** Every repeat equals the first result of its input, bit for bit. */
  identical: boolean;
  perSecond: number;
}

export interface SoakReport {
  embeddings: StageReport;
  verifies: StageReport;
  recognizers: StageReport;
  /** A fresh process computes the same embeddings and scores, bit for bit. */
  freshProcessIdentical: boolean;
  /** Every stage made all the calls asked for. */
  complete: boolean;
  seconds: number;
}

/** Checksums of each distinct embedding and score, as both the soak and a fresh process compute them. */
interface Fingerprints {
  embeddings: number[];
  scores: number[];
}

const gc = (globalThis as { gc?: () => void }).gc;
const bitsOf = (values: Float32Array) => crc32(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
const scoreBits = (score: number) => crc32(new Uint8Array(Float64Array.of(score).buffer));

interface Fixture {
  engine: Engine;
  recognizer: FaceRecognizer;
  student: StudentNet;
  photos: RgbImage[];
  faces: { image: RgbImage; landmarks: [number, number][]; mirror: boolean }[];
  pairs: [number, number][];
}

async function fixture(inputSize: number): Promise<Fixture> {
  const engine = await Engine.create();
  const recognizer = await FaceRecognizer.create({ engine, detector: { inputSize } });
  const student = new StudentNet(engine.loadModel(await loadBundledModel('mobileid')));
  const originals = readdirSync(SAMPLES).filter((f) => f.endsWith('.jpg')).sort().map((f) => decodeImage(new Uint8Array(readFileSync(path.join(SAMPLES, f)))));
  const photos = [...originals, ...originals.map(mirrorImage)];
  const faces = originals.flatMap((image) =>
    recognizer.detectFaces(image, { inputSize: 416 }).flatMap((face) => [false, true].map((mirror) => ({ image, landmarks: face.landmarks68 as [number, number][], mirror }))),
  );
  const pairs = photos.flatMap((_, a) => photos.map((_, b) => [a, b] as [number, number]).filter(([, b]) => b > a));
  return { engine, recognizer, student, photos, faces, pairs };
}

const embedOne = (f: Fixture, i: number) => {
  const face = f.faces[i % f.faces.length];
  return f.student.embed([face], face.mirror);
};
const verifyOne = (f: Fixture, i: number) => {
  const [a, b] = f.pairs[i % f.pairs.length];
  return f.recognizer.verify(f.photos[a], f.photos[b]).score ?? NaN; // null: a photo without a face
};

/** Each distinct embedding and score once (the fresh-process side of the comparison). */
async function fingerprints(inputSize: number): Promise<Fingerprints> {
  const f = await fixture(inputSize);
  return { embeddings: f.faces.map((_, i) => bitsOf(embedOne(f, i))), scores: f.pairs.map((_, i) => scoreBits(verifyOne(f, i))) };
}

/** Runs `count` iterations of `step`, checking each result's checksum against the first of its input. */
function stage(name: string, requested: number, distinct: number, engine: Engine, step: (i: number) => number, limits: Limits): StageReport & { first: number[] } {
  const { log, stageSeconds = Infinity } = limits;
  const first: number[] = [];
  let identical = true;
  let warm: MemorySample | null = null;
  const warmedUp = warmUpRule(distinct, requested, stageSeconds);
  const started = performance.now();
  let lastLog = started;
  let count = 0;
  for (let i = 0; i < requested && performance.now() - started < stageSeconds * 1000; i++, count++) {
    const bits = step(i);
    const input = i % distinct;
    if (i < distinct) first.push(bits);
    else if (first[input] !== bits) identical = false;
    if (!warm && warmedUp(i + 1, started)) warm = sampleMemory(engine);
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`${name}: ${i + 1}/${requested}, ${((i + 1) / ((lastLog - started) / 1000)).toFixed(1)}/s, ${describeMemory(sampleMemory(engine))}`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const end = sampleMemory(engine);
  warm ??= end;
  const report = { requested, count, distinct, identical, perSecond: count / seconds, ...growth(warm, end) };
  log(`${name}: ${JSON.stringify(report)}`);
  return { ...report, first };
}

const round = (x: number) => Math.round(x * 10) / 10;

/**
 * When a stage counts as warmed up: at least `minimum` calls (every input seen once) and 5% of
 * the calls asked for, or 5% of the stage's time limit, whichever comes first.
 */
const warmUpRule = (minimum: number, requested: number, stageSeconds: number) => (done: number, startedMs: number) =>
  done >= minimum && (done >= requested * 0.05 || performance.now() - startedMs >= stageSeconds * 50);

interface Limits {
  stageSeconds?: number;
  log: (line: string) => void;
}

export async function soak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? ((line: string) => console.error(line));
  const started = performance.now();
  const limits = { stageSeconds: options.stageSeconds, log };
  const f = await fixture(options.inputSize);
  log(`soak: ${f.faces.length} faces (plain and mirrored) from ${f.photos.length} photos, ${f.pairs.length} pairs of them and their mirror images${gc ? '' : ' (no --expose-gc: resident memory includes garbage)'}`);
  const embeddings = stage('embeddings', options.embeddings, f.faces.length, f.engine, (i) => bitsOf(embedOne(f, i)), limits);
  const verifies = stage('verifies', options.verifies, f.pairs.length, f.engine, (i) => scoreBits(verifyOne(f, i)), limits);
  const models = { detector: await loadBundledModel('detector'), landmarks: await loadBundledModel('landmarks68'), student: await loadBundledModel('mobileid') };
  const recognizers = await createDisposeLoop(f.engine, models, options.recognizers, limits);

  const fresh = await freshProcessFingerprints(options.inputSize);
  // the inputs this soak reached (all of them unless a count was below the number of inputs)
  const freshProcessIdentical = embeddings.first.every((bits, i) => bits === fresh.embeddings[i]) && verifies.first.every((bits, i) => bits === fresh.scores[i]);
  log(`fresh process: ${freshProcessIdentical ? 'identical' : 'DIFFERENT'} embeddings and scores`);
  f.recognizer.dispose();
  f.engine.dispose();
  const strip = ({ first: _first, ...rest }: StageReport & { first: number[] }) => rest;
  const complete = [embeddings, verifies, recognizers].every((s) => s.count === s.requested);
  return { embeddings: strip(embeddings), verifies: strip(verifies), recognizers, freshProcessIdentical, complete, seconds: (performance.now() - started) / 1000 };
}

/** Create/dispose cycles after which the resident memory has settled (it climbs over the first few dozen). */
const RECOGNIZER_WARM_UP = 50;

async function createDisposeLoop(engine: Engine, models: { detector: Uint8Array; landmarks: Uint8Array; student: Uint8Array }, requested: number, limits: Limits): Promise<StageReport> {
  const { log, stageSeconds = Infinity } = limits;
  const before = engine.memoryBytes;
  let warm: MemorySample | null = null;
  const warmedUp = warmUpRule(Math.min(requested, RECOGNIZER_WARM_UP), requested, stageSeconds);
  let identical = true;
  const started = performance.now();
  let lastLog = started;
  let count = 0;
  for (let i = 0; i < requested && performance.now() - started < stageSeconds * 1000; i++, count++) {
    const recognizer = await FaceRecognizer.create({ engine, models });
    recognizer.dispose();
    if (engine.memoryBytes !== before) identical = false; // everything a recognizer loaded is freed again
    if (!warm && warmedUp(i + 1, started)) warm = sampleMemory(engine);
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`recognizers: ${i + 1}/${requested}, ${describeMemory(sampleMemory(engine))}`);
    }
  }
  const end = sampleMemory(engine);
  warm ??= end;
  log(`recognizers: created and disposed ${count} times, arena back to ${engine.memoryBytes} bytes each time: ${identical}`);
  return {
    requested, count, distinct: 1, identical, perSecond: count / ((performance.now() - started) / 1000), ...growth(warm, end),
  };
}

/** This module in a new process with --fingerprints: each distinct result computed once there. */
function freshProcessFingerprints(inputSize: number): Promise<Fingerprints> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--fingerprints', '--input-size', String(inputSize)], {
      cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`fingerprint process exited with ${code}`))));
  });
}

// the fresh process of freshProcessFingerprints
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({ options: { fingerprints: { type: 'boolean', default: false }, 'input-size': { type: 'string', default: '416' } } });
  if (values.fingerprints) console.log(JSON.stringify(await fingerprints(Number(values['input-size']))));
}
