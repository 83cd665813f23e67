/**
 * The shipped student as a user meets it, on face-api's demo group photos (MIT, in the
 * @vladmandic/face-api devDependency): every face in one photo is a different person, so every
 * pair of faces within a photo is a "different" pair. At its shipped rule (model meta) the
 * student may call no more of those pairs "same" than the teacher does at its own threshold
 * (the mean of its per-fold LFW thresholds, reports/lfw/teacher-euclidean.json), and every face
 * must match its own mirror image.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundledModel } from '../src/engine/assets.js';
import { Engine } from '../src/engine/engine.js';
import { dlibFaceChipTransform } from '../src/face/align.js';
import { StudentNet, TeacherNet } from '../src/face/networks.js';
import { FaceRecognizer, type DetectedFace } from '../src/face/recognizer.js';
import { decodeImage } from '../src/image.js';
import { createVerifier } from '../src/verify/verifier.js';
import { faceApiDir } from './faceapi-reference.js';

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const photos = [1, 2, 3, 4, 5, 6].map((i) => path.join(faceApiDir, 'demo', `sample${i}.jpg`));
const available = photos.every((p) => existsSync(p));

let engine: Engine;
let recognizer: FaceRecognizer;
let student: StudentNet;
let teacher: TeacherNet;

beforeAll(async () => {
  if (!available) return;
  engine = await Engine.create();
  recognizer = await FaceRecognizer.create({ engine });
  student = new StudentNet(engine.loadModel(await loadBundledModel('mobileid')));
  teacher = new TeacherNet(engine.loadModel(await loadBundledModel('teacher')));
});

afterAll(() => {
  recognizer?.dispose();
  engine?.dispose();
});

const distance = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));

describe.skipIf(!available)('shipped student on face-api demo photos (different people in each photo)', () => {
  it('calls no more within-photo pairs "same" than the teacher, and matches each face with its mirror image', () => {
    const rule = recognizer.verification!;
    expect(rule).not.toBeNull();
    const verifier = createVerifier(rule.verifier);
    const teacherReport = JSON.parse(readFileSync(path.join(repoRoot, 'reports/lfw/teacher-euclidean.json'), 'utf8')) as { thresholds: number[] };
    // euclidean scores are -distance: same iff distance < -threshold
    const teacherDistance = -teacherReport.thresholds.reduce((a, b) => a + b, 0) / teacherReport.thresholds.length;
    let pairs = 0;
    let studentSame = 0;
    let teacherSame = 0;
    const studentScores: number[] = [];
    for (const file of photos) {
      const image = decodeImage(new Uint8Array(readFileSync(file)));
      const faces: DetectedFace[] = recognizer.detectFaces(image);
      const embedded = recognizer.embedFaces(image, { mirror: rule.mirror }).map((f) => f.embedding);
      const descriptors = teacher.embedChips(faces.map((f) => ({ image, chipToImage: dlibFaceChipTransform(f.landmarks68) }))).descriptor;
      const descriptor = (i: number) => descriptors.subarray(i * 128, (i + 1) * 128);
      for (let i = 0; i < faces.length; i++) {
        for (let j = i + 1; j < faces.length; j++) {
          pairs++;
          const score = verifier.score(embedded[i], embedded[j]);
          studentScores.push(score);
          if (score >= rule.threshold) studentSame++;
          if (distance(descriptor(i), descriptor(j)) < teacherDistance) teacherSame++;
        }
      }
      // each face against its own mirror image (plain embeddings, no averaging)
      const input = faces.map((f) => ({ image, landmarks: f.landmarks5 }));
      const plain = student.embed(input);
      const flipped = student.embed(input, true);
      const dim = student.dimension;
      faces.forEach((_, i) => {
        const self = verifier.score(plain.subarray(i * dim, (i + 1) * dim), flipped.subarray(i * dim, (i + 1) * dim));
        expect(self, `${path.basename(file)} face ${i} vs its mirror`).toBeGreaterThanOrEqual(rule.threshold);
      });
    }
    expect(pairs).toBeGreaterThanOrEqual(20);
    expect(studentSame, `student "same" calls among ${pairs} different-person pairs (teacher: ${teacherSame})`).toBeLessThanOrEqual(teacherSame);
    // scores of different people spread out instead of sitting just under 1
    expect(Math.min(...studentScores)).toBeLessThan(rule.threshold - 0.2);
  });
});
