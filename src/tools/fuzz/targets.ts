/**
 * What the fuzzer attacks: every parser of outside bytes. Each target has seeds (real files:
 * the shipped models, the sample photos, and small files made from them, so that a case takes
 * well under a millisecond), a mutation (byte havoc, and where the format carries a checksum or
 * a JSON header, mutations that keep the checksum right so that cases get past it), and a run
 * that must end in a result that passes its checks or in a MobileIdError.
 *
 * A target's input is always bytes (toRgbImage's reads its first byte to choose the kind of
 * value it builds), so every case, and every crash kept in test/fuzz-corpus, is one file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { crc32 } from '../../engine/crc32.js';
import type { Engine } from '../../engine/engine.js';
import type { GraphSpec } from '../../engine/graph.js';
import { decodeModel, encodeModel, type Tensor } from '../../engine/model-format.js';
import { inferShapes } from '../../engine/plan.js';
import { readVerificationDefaults } from '../../face/recognizer.js';
import { assertRgbImage, cropImage, decodeImage, encodePng, resizeBilinear, type RgbImage } from '../../image.js';
import { seededRandom } from '../../math/random.js';
import { toRgbImage } from '../../runtime/server.js';
import { fitJointBayesian, JointBayesianModel } from '../../verify/joint-bayesian.js';
import { parseChunk, readRecord, RECORD_BYTES } from '../data/cache.js';
import { parsePairList, parsePairs } from '../../verify/pairs.js';
import { decodeCheckpoint, encodeCheckpoint } from '../train/checkpoint.js';
import { concat, mutateBytes, mutateJson, type Random } from './mutate.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export interface FuzzContext {
  /** One engine per fuzzing process, for the targets that load models. */
  engine: Engine;
}

export interface FuzzTarget {
  name: string;
  /** What it parses, for the report. */
  description: string;
  seeds(): Uint8Array[];
  mutate(seed: Uint8Array, random: Random, seeds: readonly Uint8Array[]): Uint8Array;
  /** Returns when the input was accepted and the result checked; throws otherwise. */
  run(input: Uint8Array, context: FuzzContext): void | Promise<void>;
}

/** A result that passed the parser but breaks its contract (a wrong size, a NaN score): a finding. */
export class FuzzInvariantError extends Error {
  override name = 'FuzzInvariantError';
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new FuzzInvariantError(message);
}

const readRepoFile = (file: string) => new Uint8Array(readFileSync(path.join(REPO, file)));
const samplePhotos = (): RgbImage[] =>
  readdirSync(path.join(REPO, 'demo/samples')).filter((f) => f.endsWith('.jpg')).sort().map((f) => decodeImage(readRepoFile(`demo/samples/${f}`)));

// ---------------------------------------------------------------------------------------------
// Images

/** Small versions of the sample photos: the decoders' work per case stays tiny. */
function smallPhotos(): RgbImage[] {
  return samplePhotos().flatMap((photo, i) => {
    const side = Math.min(photo.width, photo.height);
    const square = cropImage(photo, (photo.width - side) >> 1, (photo.height - side) >> 1, side, side);
    return [resizeBilinear(square, 16 + 8 * i, 24), resizeBilinear(photo, 9, 7 + i)];
  });
}

/** An APP1 Exif segment holding one IFD0 entry: orientation (type SHORT). */
function exifSegment(orientation: number, little: boolean): Uint8Array {
  const tiff = new Uint8Array(26);
  const view = new DataView(tiff.buffer);
  tiff.set(little ? [0x49, 0x49] : [0x4d, 0x4d]);
  view.setUint16(2, 42, little);
  view.setUint32(4, 8, little);
  view.setUint16(8, 1, little);
  view.setUint16(10, 0x0112, little);
  view.setUint16(12, 3, little);
  view.setUint32(14, 1, little);
  view.setUint16(18, orientation, little);
  const body = concat(new Uint8Array([0x45, 0x78, 0x69, 0x66, 0, 0]), tiff);
  return concat(new Uint8Array([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body);
}

const encodeJpeg = (image: RgbImage, quality: number): Uint8Array => {
  const rgba = new Uint8Array(image.width * image.height * 4);
  for (let i = 0; i < image.width * image.height; i++) rgba.set(image.data.subarray(i * 3, i * 3 + 3), i * 4);
  return new Uint8Array(jpeg.encode({ data: rgba, width: image.width, height: image.height }, quality).data);
};

function jpegSeeds(): Uint8Array[] {
  const small = smallPhotos().map((image, i) => encodeJpeg(image, [90, 50, 10][i % 3]));
  const withExif = small.slice(0, 4).map((file, i) => concat(file.subarray(0, 2), exifSegment(3 + i * 2 - (i % 2), i % 2 === 0), file.subarray(2)));
  return [...small, ...withExif, readRepoFile('demo/samples/a.jpg')];
}

/** A PNG chunk: length, type, data, CRC-32 of type and data. */
function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(Array.from(type, (c) => c.charCodeAt(0)), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Recomputes every chunk CRC that lies within the file, so that mutations reach past pngjs's checks. */
function fixPngChecksums(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = 8; p + 12 <= bytes.length; ) {
    const length = view.getUint32(p);
    if (p + 12 + length > bytes.length) break;
    view.setUint32(p + 8 + length, crc32(bytes.subarray(p + 4, p + 8 + length)));
    p += 12 + length;
  }
  return bytes;
}

function pngSeeds(): Uint8Array[] {
  const files = smallPhotos().map((image) => encodePng(image));
  // eXIf before the image data, as decodeImage reads it
  const withExif = files.slice(0, 3).map((file, i) => {
    const tiff = exifSegment(6 + i, i === 1).subarray(10);
    return concat(file.subarray(0, 33), pngChunk('eXIf', tiff), file.subarray(33));
  });
  return [...files, ...withExif];
}

// ---------------------------------------------------------------------------------------------
// Model files

/** A small graph with every layer kind the engine runs, and the student's verification rule. */
function smallGraph(): { graph: GraphSpec; tensors: Map<string, Tensor> } {
  const none = { kind: 'none' } as const;
  const graph: GraphSpec = {
    name: 'fuzz-seed',
    input: { name: 'image', shape: [9, 8, 3] },
    outputs: ['d1'],
    layers: [
      { op: 'conv', input: 'image', output: 'c1', weights: 'c1.w', bias: 'c1.b', cout: 8, kernel: [3, 3], stride: [1, 1], pad: [1, 1, 1, 1], groups: 1, activation: { kind: 'relu' } },
      { op: 'conv', input: 'c1', output: 'c2', weights: 'c2.w', cout: 8, kernel: [3, 3], stride: [1, 1], pad: [1, 1, 1, 1], groups: 8, activation: { kind: 'leaky', alpha: 0.1 } },
      { op: 'affine', input: 'c2', output: 'a1', scale: 'a1.s', shift: 'a1.t', activation: { kind: 'prelu', slope: 'a1.p' } },
      { op: 'add', inputs: ['a1', 'c1'], output: 's1', activation: none },
      { op: 'maxpool', input: 's1', output: 'p1', kernel: [2, 2], stride: [2, 2], pad: [0, 0, 0, 0] },
      { op: 'pad', input: 'p1', output: 'q1', pad: [0, 0, 1, 1], channels: 12 },
      { op: 'activation', input: 'q1', output: 'g1', activation: { kind: 'relu' } },
      { op: 'avgpool', input: 'g1', output: 'v1', kernel: [2, 2], stride: [1, 1], pad: [0, 1, 0, 1] },
      { op: 'dense', input: 'v1', output: 'd1', weights: 'd1.w', bias: 'd1.b', units: 5, activation: none },
    ],
    preprocess: { channelOrder: 'bgr', mean: [127.5, 127.5, 127.5], scale: [0.0125, 0.0125, 0.0125] },
    meta: { verification: { verifier: 'euclidean', threshold: -0.3894, mirror: true } },
  };
  const random = seededRandom(6);
  const tensors = new Map<string, Tensor>();
  const add = (name: string, shape: number[]) =>
    tensors.set(name, { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() - 0.5) });
  [['c1.w', [3, 3, 3, 8]], ['c1.b', [8]], ['c2.w', [3, 3, 1, 8]], ['a1.s', [8]], ['a1.t', [8]], ['a1.p', [8]]].forEach(([n, s]) => add(n as string, s as number[]));
  const [h, w, c] = inferShapes({ ...graph, layers: graph.layers.slice(0, -1), outputs: ['v1'] }, tensors).get('v1')!;
  add('d1.w', [h * w * c, 5]);
  add('d1.b', [5]);
  return { graph, tensors };
}

function modelSeeds(): Uint8Array[] {
  const { graph, tensors } = smallGraph();
  const small = (['f32', 'f16', 'q8'] as const).map((dtype) => encodeModel(graph, tensors, { dtype }));
  const global = { ...graph, outputs: ['gp'], layers: [...graph.layers.slice(0, 2), { op: 'globalavgpool' as const, input: 'c2', output: 'gp' }] };
  return [...small, encodeModel(global, tensors), ...['tiny-face-detector', 'landmarks68', 'mobileid-student'].map((m) => readRepoFile(`models/${m}.mobileid`))];
}

/**
 * A file laid out as `prefix | u32 LE header length | JSON header | padding to `align` | data |
 * CRC-32`, with its JSON header mutated and the file re-laid out and re-checksummed.
 */
function mutateJsonHeader(bytes: Uint8Array, random: Random, lengthAt: number, align: number): Uint8Array {
  const headerAt = lengthAt + 4;
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(lengthAt, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(headerAt, headerAt + headerLength)));
  const text = new TextEncoder().encode(JSON.stringify(mutateJson(header, random)));
  const data = bytes.subarray(Math.ceil((headerAt + headerLength) / align) * align, bytes.length - 4);
  const start = Math.ceil((headerAt + text.length) / align) * align;
  const out = new Uint8Array(start + data.length + 4);
  out.set(bytes.subarray(0, lengthAt));
  new DataView(out.buffer).setUint32(lengthAt, text.length, true);
  out.set(text, headerAt);
  out.set(data, start);
  return withTrailingCrc(out);
}

/** A model file (magic, version, header length at byte 12, data 16-aligned) with a mutated header. */
const mutateModelHeader = (bytes: Uint8Array, random: Random) => mutateJsonHeader(bytes, random, 12, 16);

/** Recomputes the CRC-32 in the last 4 bytes (little-endian) over everything before it. */
function withTrailingCrc(bytes: Uint8Array): Uint8Array {
  if (bytes.length >= 4) new DataView(bytes.buffer, bytes.byteOffset).setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
  return bytes;
}

/** Largest input a fuzzed model is run on: a mutated header may declare a huge input shape. */
const MAX_RUN_INPUT = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Joint Bayesian files

function jointBayesianSeeds(): Uint8Array[] {
  return [[6, 3, 4], [12, 5, 8]].map(([dim, pcaDim, identities], s) => {
    const random = seededRandom(20 + s);
    const perIdentity = 4;
    const count = identities * perIdentity;
    const centres = Float32Array.from({ length: identities * dim }, () => random() * 4 - 2);
    const rows = Float32Array.from({ length: count * dim }, (_, i) => centres[Math.floor(i / dim / perIdentity) * dim + (i % dim)] + random() - 0.5);
    const labels = Int32Array.from({ length: count }, (_, i) => Math.floor(i / perIdentity));
    return fitJointBayesian(rows, count, dim, labels, { pcaDim }).model.toBytes();
  });
}

// ---------------------------------------------------------------------------------------------
// Prepared chunks: u32 LE JSON length | the .json text | the .bin bytes

function chunkSeeds(): Uint8Array[] {
  return [[1, 1], [2, 2], [3, 1]].map(([keys, views], s) => {
    const random = seededRandom(30 + s);
    const data = Uint8Array.from({ length: keys * views * RECORD_BYTES }, () => Math.floor(random() * 256));
    const json = JSON.stringify({
      keys: Array.from({ length: keys }, (_, i) => `person_${i}/person_${i}_0001`), views, failures: s ? [{ key: 'x/x_0001', reason: 'ImageDecodeError: corrupt' }] : [], crc: crc32(data),
    });
    return packChunk(json, data);
  });
}

function packChunk(json: string, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(4 + text.length + data.length);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 4);
  out.set(data, 4 + text.length);
  return out;
}

function unpackChunk(input: Uint8Array): { json: string; data: Uint8Array } {
  const length = input.length >= 4 ? Math.min(new DataView(input.buffer, input.byteOffset).getUint32(0, true), input.length - 4) : 0;
  return { json: new TextDecoder().decode(input.subarray(4, 4 + length)), data: input.subarray(4 + length) };
}

function mutateChunk(seed: Uint8Array, random: Random): Uint8Array {
  const { json, data } = unpackChunk(seed);
  let meta: unknown;
  try {
    meta = JSON.parse(json);
  } catch {
    return mutateBytes(seed, random);
  }
  if (random() < 0.5) return packChunk(JSON.stringify(mutateJson(meta, random)), data);
  const bin = mutateBytes(data, random);
  // half the time the CRC is made to match the damage, so the size and record checks are reached
  if (random() < 0.5 && meta && typeof meta === 'object') (meta as { crc?: number }).crc = crc32(bin);
  return packChunk(JSON.stringify(meta), bin);
}

// ---------------------------------------------------------------------------------------------
// LFW pairs.txt

function pairsSeeds(): Uint8Array[] {
  const people = ['Aaron_Peirsol', 'Abdullah_Gul', 'Zico', 'Ana_Isabel_Sanchez', 'Adam_Sandler'];
  const text = (folds: number, n: number, crlf: boolean) => {
    const lines = [`${folds}\t${n}`];
    for (let f = 0; f < folds; f++) {
      for (let i = 0; i < n; i++) lines.push(`${people[(f + i) % 5]}\t${i + 1}\t${i + 2}`);
      for (let i = 0; i < n; i++) lines.push(`${people[i % 5]}\t${i + 1}\t${people[(i + 1) % 5]}\t${f + 1}`);
    }
    return new TextEncoder().encode(lines.join(crlf ? '\r\n' : '\n') + '\n');
  };
  return [text(1, 1, false), text(2, 3, false), text(3, 2, true)];
}

/** eval-pairs' tab-separated lists, with and without the folds header, plus the LFW seeds. */
function pairListSeeds(): Uint8Array[] {
  const tsv = (folds: number, n: number) => {
    const lines = folds ? [`${folds}\t${n}`] : [];
    for (let f = 0; f < Math.max(1, folds); f++) {
      for (let i = 0; i < n; i++) lines.push(`p${f}/a${i}.jpg\tp${f}/b${i}.jpg\t1`);
      for (let i = 0; i < n; i++) lines.push(`p${f}/a${i}.jpg\tq${f}/c${i}.png\t0`);
    }
    return new TextEncoder().encode(lines.join('\n') + '\n');
  };
  return [tsv(0, 2), tsv(2, 2), tsv(3, 1), ...pairsSeeds()];
}

// ---------------------------------------------------------------------------------------------
// Training checkpoints

function checkpointSeeds(): Uint8Array[] {
  const random = seededRandom(40);
  const floats = (n: number) => Float32Array.from({ length: n }, () => random() - 0.5);
  return [5, 17].map((n, i) => encodeCheckpoint({
    meta: { format: 1, epoch: i + 1, options: { seed: 1 } },
    weights: floats(n),
    optimizer: { kind: i ? 'sgd' : 'adam', step: 3 * n, first: floats(n), second: floats(n) },
  }));
}

/** A checkpoint (magic, header length at byte 8, data 4-aligned) with a mutated header. */
const mutateCheckpointHeader = (bytes: Uint8Array, random: Random) => mutateJsonHeader(bytes, random, 8, 4);

// ---------------------------------------------------------------------------------------------
// toRgbImage: the first byte chooses the kind of value built from the rest

const ODD_INPUTS: unknown[] = [null, undefined, 0, 42, true, {}, [], [1, 2, 3], 'no/such/photo.jpg', '.', new Date(0), { data: 'pixels', width: 1, height: 1 }, { data: new Uint8Array(3) }];

function imageSourceOf(input: Uint8Array): unknown {
  const rest = input.subarray(1);
  const kind = (input[0] ?? 0) % 8;
  switch (kind) {
    case 0: return rest;
    case 1: return rest.slice().buffer;
    case 2: return new DataView(rest.slice().buffer);
    case 3: return new Blob([rest.slice()]);
    case 4: return new Uint16Array(rest.slice(0, rest.length & ~1).buffer);
    case 5:
    case 6: {
      // raw pixels: width and height (u16 LE), channels, typed-array kind, then the pixel bytes
      const view = new DataView(rest.buffer, rest.byteOffset, rest.byteLength);
      if (rest.length < 6) return { data: rest, width: rest.length, height: 1 };
      const channels = [undefined, 3, 4, 1, 0, 5, 3.5, -3][rest[4] % 8];
      const data = rest.subarray(6);
      const width = view.getUint16(0, true) - (rest[5] & 0x80 ? 0.5 : 0);
      return { data: kind === 5 ? data : new Uint8ClampedArray(data), width, height: view.getUint16(2, true), channels };
    }
    default: return ODD_INPUTS[rest.length % ODD_INPUTS.length];
  }
}

function imageSourceSeeds(): Uint8Array[] {
  const images = [...jpegSeeds().slice(0, 3), ...pngSeeds().slice(0, 3)];
  const encoded = images.flatMap((file, i) => [concat(new Uint8Array([i % 5]), file)]);
  const raw = smallPhotos().slice(0, 4).map((image, i) => {
    const header = new Uint8Array(7);
    const view = new DataView(header.buffer);
    header[0] = 5 + (i % 2);
    view.setUint16(1, image.width, true);
    view.setUint16(3, image.height, true);
    header[5] = 1;
    return concat(header, image.data);
  });
  return [...encoded, ...raw, new Uint8Array([7, 1, 2, 3])];
}

// ---------------------------------------------------------------------------------------------

export const TARGETS: readonly FuzzTarget[] = [
  {
    name: 'model-file',
    description: 'decodeModel + Engine.loadModel + one run + meta.verification (model files, incl. the shipped ones)',
    seeds: modelSeeds,
    mutate(seed, random, seeds) {
      const choice = random();
      if (choice < 0.4) return mutateModelHeader(seed, random);
      const bytes = mutateBytes(seed, random, seeds);
      return choice < 0.7 ? withTrailingCrc(bytes) : bytes;
    },
    run(input, { engine }) {
      decodeModel(input); // the format alone, then the graph
      const model = engine.loadModel(input);
      try {
        readVerificationDefaults(model.graph.meta);
        const [h, w, c] = model.graph.input.shape;
        if (h * w * c <= MAX_RUN_INPUT) {
          const outputs = model.run(new Float32Array(h * w * c).fill(0.5));
          check(outputs.length > 0, 'a loaded model returned no outputs');
        }
      } finally {
        model.dispose();
      }
    },
  },
  {
    name: 'joint-bayesian-file',
    description: 'JointBayesianModel.fromBytes + score (saved verifiers)',
    seeds: jointBayesianSeeds,
    mutate(seed, random, seeds) {
      const bytes = mutateBytes(seed, random, seeds);
      return random() < 0.5 ? withTrailingCrc(bytes) : bytes;
    },
    run(input) {
      const model = JointBayesianModel.fromBytes(input);
      const x = Float32Array.from({ length: model.inputDim }, (_, i) => Math.sin(i));
      const y = Float32Array.from({ length: model.inputDim }, (_, i) => Math.cos(i));
      check(Number.isFinite(model.score(x, y)), 'a loaded verifier scored two finite features as non-finite');
    },
  },
  {
    name: 'jpeg',
    description: 'decodeImage on JPEG bytes (incl. Exif orientation)',
    seeds: jpegSeeds,
    mutate: (seed, random, seeds) => mutateBytes(seed, random, seeds),
    run(input) {
      assertRgbImage(decodeImage(input));
    },
  },
  {
    name: 'png',
    description: 'decodeImage on PNG bytes (incl. eXIf orientation)',
    seeds: pngSeeds,
    mutate(seed, random, seeds) {
      const bytes = mutateBytes(seed, random, seeds);
      return random() < 0.6 ? fixPngChecksums(bytes) : bytes;
    },
    run(input) {
      assertRgbImage(decodeImage(input));
    },
  },
  {
    name: 'prepared-chunk',
    description: 'parseChunk + readRecord (the prepared-data cache)',
    seeds: chunkSeeds,
    mutate: (seed, random) => (random() < 0.15 ? mutateBytes(seed, random) : mutateChunk(seed, random)),
    run(input) {
      const { json, data } = unpackChunk(input);
      const chunk = parseChunk('fuzz', json, data);
      for (let i = 0; i < chunk.keys.length; i++) {
        for (let v = 0; v < chunk.views; v++) check(readRecord(chunk, i, v).crop.length > 0, 'empty crop');
      }
    },
  },
  {
    name: 'lfw-pairs',
    description: 'parsePairs (LFW pairs.txt)',
    seeds: pairsSeeds,
    mutate: (seed, random, seeds) => mutateBytes(seed, random, seeds),
    run(input) {
      const parsed = parsePairs(new TextDecoder().decode(input));
      check(parsed.pairs.length === parsed.folds * 2 * parsed.pairsPerClass, 'pair count differs from the header');
    },
  },
  {
    name: 'pair-list',
    description: 'parsePairList (eval-pairs and calibrate: LFW or tab-separated)',
    seeds: pairListSeeds,
    mutate: (seed, random, seeds) => mutateBytes(seed, random, seeds),
    run(input) {
      const parsed = parsePairList(new TextDecoder().decode(input), 'fuzz.tsv');
      check(parsed.folds >= 1 && parsed.pairs.every((p) => p.fold >= 0 && p.fold < parsed.folds), 'pair outside the folds');
    },
  },
  {
    name: 'checkpoint',
    description: 'decodeCheckpoint (training checkpoints)',
    seeds: checkpointSeeds,
    mutate(seed, random, seeds) {
      const choice = random();
      if (choice < 0.4) return mutateCheckpointHeader(seed, random);
      const bytes = mutateBytes(seed, random, seeds);
      return choice < 0.7 ? withTrailingCrc(bytes) : bytes;
    },
    run(input) {
      const checkpoint = decodeCheckpoint(input);
      check(checkpoint.weights instanceof Float32Array, 'checkpoint without weights');
    },
  },
  {
    name: 'to-rgb-image',
    description: 'toRgbImage (server entry): bytes, ArrayBuffer, DataView, Blob, other views, raw pixels, other values',
    seeds: imageSourceSeeds,
    mutate: (seed, random, seeds) => mutateBytes(seed, random, seeds),
    async run(input) {
      assertRgbImage(await toRgbImage(imageSourceOf(input) as Parameters<typeof toRgbImage>[0]));
    },
  },
];

export function targetNamed(name: string): FuzzTarget {
  const target = TARGETS.find((t) => t.name === name);
  if (!target) throw new Error(`no fuzz target "${name}"; targets: ${TARGETS.map((t) => t.name).join(', ')}`);
  return target;
}
