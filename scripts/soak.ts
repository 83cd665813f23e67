/**
 * npm run soak -- [--embeddings 100000] [--verifies 10000] [--recognizers 10000] [--json]
 *
 * Long use in one process, on the faces of the bundled sample photos (every face of the six
 * photos, plain and mirrored, so the inputs vary; verify pairs every photo with every other):
 *
 *   1. --embeddings student embeddings of aligned faces (the library's embedding path, the
 *      detection done once beforehand, at the default input size 416);
 *   2. --verifies FaceRecognizer.verify calls on photo pairs (detection, landmarks, alignment,
 *      embedding, score; the detector at --input-size, default 416);
 *   3. --recognizers FaceRecognizer.create + dispose on one engine (model bytes read once); its
 *      `identical` says the engine's arena was back to its size before after every dispose.
 *
 * For each stage: the wasm memory (linear memory size) and the process's resident memory (after
 * a garbage collection) once warmed up (after the first 5%; recognizers: at least 50 cycles) and at the end, and whether every
 * repeated result is bit-identical to the first of its input. A fresh process then computes each
 * distinct embedding and score once: they must equal the soak's bit for bit. Progress on stderr;
 * with --json the last stdout line is the report. Exits 1 on any difference.
 * test/soak.test.ts runs a small slice in CI.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadBundledModel } from '../src/engine/assets.js';
import { Engine } from '../src/engine/engine.js';
import { crc32 } from '../src/engine/crc32.js';
import { StudentNet } from '../src/face/networks.js';
import { FaceRecognizer } from '../src/face/recognizer.js';
import { decodeImage, type RgbImage } from '../src/image.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const SAMPLES = path.join(REPO, 'demo/samples');

export interface SoakOptions {
  embeddings: number;
  verifies: number;
  recognizers: number;
  inputSize: number;
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
}

export interface StageReport extends MemoryGrowth {
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
  seconds: number;
}

/** Checksums of each distinct embedding and score, as both the soak and a fresh process compute them. */
interface Fingerprints {
  embeddings: number[];
  scores: number[];
}

const gc = (globalThis as { gc?: () => void }).gc;
const rssMb = () => {
  gc?.();
  return process.memoryUsage.rss() / 2 ** 20;
};
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
  const photos = readdirSync(SAMPLES).filter((f) => f.endsWith('.jpg')).sort().map((f) => decodeImage(new Uint8Array(readFileSync(path.join(SAMPLES, f)))));
  const faces = photos.flatMap((image) =>
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
function stage(name: string, count: number, distinct: number, engine: Engine, step: (i: number) => number, log: (line: string) => void): StageReport & { first: number[] } {
  const first: number[] = [];
  let identical = true;
  let warm = { wasm: 0, rss: 0 };
  const warmAt = Math.max(distinct, Math.floor(count * 0.05));
  const started = performance.now();
  let lastLog = started;
  for (let i = 0; i < count; i++) {
    const bits = step(i);
    const input = i % distinct;
    if (i < distinct) first.push(bits);
    else if (first[input] !== bits) identical = false;
    if (i + 1 === warmAt) warm = { wasm: engine.wasmMemoryBytes, rss: rssMb() };
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`${name}: ${i + 1}/${count}, ${((i + 1) / ((lastLog - started) / 1000)).toFixed(1)}/s, rss ${rssMb().toFixed(0)} MB, wasm ${(engine.wasmMemoryBytes / 2 ** 20).toFixed(1)} MB`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const end = { wasm: engine.wasmMemoryBytes, rss: rssMb() };
  if (count < warmAt) warm = end;
  const report = {
    count, distinct, identical, perSecond: count / seconds,
    wasmWarm: warm.wasm, wasmEnd: end.wasm, rssWarmMb: round(warm.rss), rssEndMb: round(end.rss), rssGrowthMb: round(end.rss - warm.rss),
  };
  log(`${name}: ${JSON.stringify(report)}`);
  return { ...report, first };
}

const round = (x: number) => Math.round(x * 10) / 10;

export async function soak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? ((line: string) => console.error(line));
  const started = performance.now();
  const f = await fixture(options.inputSize);
  log(`soak: ${f.faces.length} faces (plain and mirrored) from ${f.photos.length} photos, ${f.pairs.length} photo pairs${gc ? '' : ' (no --expose-gc: resident memory includes garbage)'}`);
  const embeddings = stage('embeddings', options.embeddings, f.faces.length, f.engine, (i) => bitsOf(embedOne(f, i)), log);
  const verifies = stage('verifies', options.verifies, f.pairs.length, f.engine, (i) => scoreBits(verifyOne(f, i)), log);
  const models = { detector: await loadBundledModel('detector'), landmarks: await loadBundledModel('landmarks68'), student: await loadBundledModel('mobileid') };
  const recognizers = await createDisposeLoop(f.engine, models, options.recognizers, log);

  const fresh = await freshProcessFingerprints(options.inputSize);
  // the inputs this soak reached (all of them unless a count was below the number of inputs)
  const freshProcessIdentical = embeddings.first.every((bits, i) => bits === fresh.embeddings[i]) && verifies.first.every((bits, i) => bits === fresh.scores[i]);
  log(`fresh process: ${freshProcessIdentical ? 'identical' : 'DIFFERENT'} embeddings and scores`);
  f.recognizer.dispose();
  f.engine.dispose();
  const strip = ({ first: _first, ...rest }: StageReport & { first: number[] }) => rest;
  return { embeddings: strip(embeddings), verifies: strip(verifies), recognizers, freshProcessIdentical, seconds: (performance.now() - started) / 1000 };
}

/** Create/dispose cycles after which the resident memory has settled (it climbs over the first few dozen). */
const RECOGNIZER_WARM_UP = 50;

async function createDisposeLoop(engine: Engine, models: { detector: Uint8Array; landmarks: Uint8Array; student: Uint8Array }, count: number, log: (line: string) => void): Promise<StageReport> {
  const before = engine.memoryBytes;
  let warm = { wasm: engine.wasmMemoryBytes, rss: rssMb() };
  const warmAt = Math.min(count, Math.max(RECOGNIZER_WARM_UP, Math.floor(count * 0.05)));
  let identical = true;
  const started = performance.now();
  let lastLog = started;
  for (let i = 0; i < count; i++) {
    const recognizer = await FaceRecognizer.create({ engine, models });
    recognizer.dispose();
    if (engine.memoryBytes !== before) identical = false; // everything a recognizer loaded is freed again
    if (i + 1 === warmAt) warm = { wasm: engine.wasmMemoryBytes, rss: rssMb() };
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`recognizers: ${i + 1}/${count}, rss ${rssMb().toFixed(0)} MB, wasm ${(engine.wasmMemoryBytes / 2 ** 20).toFixed(1)} MB`);
    }
  }
  const end = { wasm: engine.wasmMemoryBytes, rss: rssMb() };
  log(`recognizers: created and disposed ${count} times, arena back to ${engine.memoryBytes} bytes each time: ${identical}`);
  return {
    count, distinct: 1, identical, perSecond: count / ((performance.now() - started) / 1000),
    wasmWarm: warm.wasm, wasmEnd: end.wasm, rssWarmMb: round(warm.rss), rssEndMb: round(end.rss), rssGrowthMb: round(end.rss - warm.rss),
  };
}

/** This script in a new process with --fingerprints: each distinct result computed once there. */
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

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      embeddings: { type: 'string', default: '100000' },
      verifies: { type: 'string', default: '10000' },
      recognizers: { type: 'string', default: '10000' },
      'input-size': { type: 'string', default: '416' },
      fingerprints: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const inputSize = Number(values['input-size']);
  if (values.fingerprints) {
    console.log(JSON.stringify(await fingerprints(inputSize)));
  } else {
    const report = await soak({ embeddings: Number(values.embeddings), verifies: Number(values.verifies), recognizers: Number(values.recognizers), inputSize });
    const ok = report.freshProcessIdentical && [report.embeddings, report.verifies, report.recognizers].every((s) => s.identical);
    if (values.json) console.log(JSON.stringify(report));
    process.exit(ok ? 0 : 1);
  }
}
