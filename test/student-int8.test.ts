// The committed int8 student (npm run quantize): small enough, made from the committed float
// student (checksum), the recognizer's default, with a verification rule fitted on its own
// embeddings, and close to the float student on a fixed set of faces: every face of the sample
// photos (demo/samples), found and aligned once, embedded by both. Tolerance: cosine >= 0.99
// between a face's two embeddings, the verification scores of every pair of faces within 0.03 of
// each other, and, each model with its own rule, the same same/different decision for every pair
// whose float score is more than that tolerance away from the float threshold.
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../src/engine/assets.js';
import { crc32 } from '../src/engine/crc32.js';
import { Engine } from '../src/engine/engine.js';
import { decodeModel, modelFingerprint } from '../src/engine/model-format.js';
import { StudentNet } from '../src/face/networks.js';
import { DEFAULT_PRECISION, FaceRecognizer, readVerificationDefaults, type DetectedFace } from '../src/face/recognizer.js';
import { InputError } from '../src/errors.js';
import { decodeImage, type RgbImage } from '../src/image.js';
import { embeddingAgreement } from '../src/tools/quantize.js';
import { createVerifier } from '../src/verify/verifier.js';

const read = (file: string) => new Uint8Array(readFileSync(new URL(`../models/${file}`, import.meta.url)));
const floatBytes = read(BUNDLED_MODELS.mobileid);
const int8Bytes = read(BUNDLED_MODELS.mobileidInt8);
const samples = new URL('../demo/samples/', import.meta.url);

let engine: Engine;
let recognizer: FaceRecognizer;
let faces: { image: RgbImage; face: DetectedFace }[] = [];

beforeAll(async () => {
  engine = await Engine.create();
  recognizer = await FaceRecognizer.create({ engine });
  for (const file of readdirSync(samples).filter((f) => f.endsWith('.jpg')).sort()) {
    const image = decodeImage(new Uint8Array(readFileSync(new URL(file, samples))));
    faces.push(...recognizer.detectFaces(image).map((face) => ({ image, face })));
  }
}, 120_000);

afterAll(() => {
  recognizer?.dispose();
  engine?.dispose();
});

describe('shipped int8 student', () => {
  it('holds one byte per weight and half a byte per fc1 weight (4-bit), format version 3, quantised from the shipped float student', () => {
    const { graph: floatGraph, tensors } = decodeModel(floatBytes);
    const parameters = [...tensors.values()].reduce((n, t) => n + t.data.length, 0);
    const fc1 = decodeModel(int8Bytes).tensors.get('fc1.w')!;
    expect(fc1.quantized!.bits).toBe(4);
    expect([...decodeModel(int8Bytes).tensors].filter(([, t]) => t.quantized?.bits === 4).map(([name]) => name)).toEqual(['fc1.w']);
    // codes, f32 biases and per-channel scales, the JSON header: under 1.02 bytes per stored byte of code
    expect(int8Bytes.length).toBeLessThanOrEqual(1.02 * (parameters - fc1.data.length / 2) + 16_384);
    expect(floatGraph.layers.length).toBeGreaterThan(0);
    expect(new DataView(int8Bytes.buffer, int8Bytes.byteOffset).getUint32(8, true)).toBe(3);
    const { graph } = decodeModel(int8Bytes);
    const float = decodeModel(floatBytes).graph;
    // stale after a retrain: rerun npm run quantize
    expect((graph.meta?.quantization as { source: { crc32: number } }).source.crc32).toBe(crc32(floatBytes));
    expect(graph.layers).toEqual(float.layers);
  });

  it('carries a verification rule fitted on its own embeddings, of the float rule\'s kind', () => {
    const int8 = decodeModel(int8Bytes);
    const rule = int8.graph.meta?.verification as { verifier: string; mirror: boolean; threshold: number; source: string; fingerprint: string };
    const floatRule = decodeModel(floatBytes).graph.meta?.verification as { verifier: string; mirror: boolean };
    expect(rule.fingerprint).toBe(modelFingerprint(int8));
    expect(rule.source).toMatch(/CelebA/);
    expect([rule.verifier, rule.mirror]).toEqual([floatRule.verifier, floatRule.mirror]);
    expect(recognizer.verification).toEqual({ verifier: rule.verifier, threshold: rule.threshold, mirror: rule.mirror });
    expect(recognizer.createMatcher().threshold).toBe(rule.threshold);
  });

  it('is what the recognizer embeds with by default (precision int8); f32 picks the float student', async () => {
    expect(DEFAULT_PRECISION).toBe('int8');
    expect(recognizer.model!.fingerprint).toBe(modelFingerprint(decodeModel(int8Bytes)));
    const float = await FaceRecognizer.create({ engine, precision: 'f32' });
    expect(float.model!.fingerprint).toBe(modelFingerprint(decodeModel(floatBytes)));
    expect(float.embeddingSize).toBe(recognizer.embeddingSize);
    float.dispose();
    await expect(FaceRecognizer.create({ engine, precision: 'int8', models: { student: floatBytes } })).rejects.toThrow(InputError);
    await expect(FaceRecognizer.create({ engine, precision: 'f16' as 'f32' })).rejects.toThrow(InputError);
  });

  it('embeds the faces of the sample photos like the float student', () => {
    expect(faces.length).toBeGreaterThanOrEqual(6);
    const float = new StudentNet(engine.loadModel(floatBytes, { batch: faces.length }));
    const int8 = new StudentNet(engine.loadModel(int8Bytes, { batch: faces.length }));
    const batch = faces.map(({ image, face }) => ({ image, landmarks: face.landmarks5 }));
    const a = float.embed(batch);
    const b = int8.embed(batch);
    const agreement = embeddingAgreement(a, b, float.dimension);
    expect(agreement.minCosine).toBeGreaterThanOrEqual(0.99);
    const rule = recognizer.verification!;
    const floatRule = readVerificationDefaults(decodeModel(floatBytes).graph.meta)!;
    const verifier = createVerifier(rule.verifier);
    const dim = float.dimension;
    const at = (e: Float32Array, i: number) => e.subarray(i * dim, (i + 1) * dim);
    let worst = 0;
    for (let i = 0; i < faces.length; i++) {
      for (let j = i + 1; j < faces.length; j++) {
        const floatScore = verifier.score(at(a, i), at(a, j));
        const int8Score = verifier.score(at(b, i), at(b, j));
        worst = Math.max(worst, Math.abs(floatScore - int8Score));
        // away from the threshold (farther than the score tolerance) both rules decide alike
        if (Math.abs(floatScore - floatRule.threshold) > 0.03) expect(int8Score >= rule.threshold).toBe(floatScore >= floatRule.threshold);
      }
    }
    expect(worst).toBeLessThanOrEqual(0.03);
    // the int8 recognizer embeds with the int8 student
    expect(recognizer.embedFaces(faces[0].image)[0].embedding).toEqual(at(b, 0));
  });
});
