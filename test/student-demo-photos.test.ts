/**
 * The shipped student as a user meets it, on face-api's demo group photos (MIT, in the
 * @vladmandic/face-api devDependency): every face in one photo is a different person, so every
 * pair of faces within a photo is a "different" pair. Every face must match its own mirror image
 * at the shipped rule (model meta), and different people's scores must spread well below it, and
 * the student must call no more of those pairs "same" than the teacher at its own threshold (the
 * mean of its per-fold LFW thresholds, reports/lfw/teacher-euclidean.json).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundledModel } from '../src/engine/assets.js';
import { Engine } from '../src/engine/engine.js';
import { dlibFaceChipTransform } from '../src/face/align.js';
import { StudentNet, TeacherNet } from '../src/face/networks.js';
import { bundledStudent, FaceRecognizer, type DetectedFace } from '../src/face/recognizer.js';
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
  student = new StudentNet(engine.loadModel(await loadBundledModel(bundledStudent())));
  teacher = new TeacherNet(engine.loadModel(await loadBundledModel('teacher')));
});

afterAll(() => {
  recognizer?.dispose();
  engine?.dispose();
});

interface Measured {
  pairs: number;
  studentSame: number;
  teacherSame: number;
  studentScores: number[];
  /** Each face's plain embedding against its mirror image's, and the files they come from. */
  selfScores: { label: string; score: number }[];
}

let measured: Measured | null = null;

/** Every within-photo pair, scored by the student at its shipped rule and the teacher at its LFW threshold. */
function measure(): Measured {
  if (measured) return measured;
  const rule = recognizer.verification!;
  const verifier = createVerifier(rule.verifier);
  const euclidean = createVerifier('euclidean');
  const teacherReport = JSON.parse(readFileSync(path.join(repoRoot, 'reports/lfw/teacher-euclidean.json'), 'utf8')) as { thresholds: number[] };
  // euclidean scores are -distance, like the report's thresholds
  const teacherThreshold = teacherReport.thresholds.reduce((a, b) => a + b, 0) / teacherReport.thresholds.length;
  const result: Measured = { pairs: 0, studentSame: 0, teacherSame: 0, studentScores: [], selfScores: [] };
  for (const file of photos) {
    const image = decodeImage(new Uint8Array(readFileSync(file)));
    const faces: DetectedFace[] = recognizer.detectFaces(image);
    const embedded = recognizer.embedFaces(image, { mirror: rule.mirror }).map((f) => f.embedding);
    const descriptors = teacher.embedChips(faces.map((f) => ({ image, chipToImage: dlibFaceChipTransform(f.landmarks68) }))).descriptor;
    const descriptor = (i: number) => descriptors.subarray(i * 128, (i + 1) * 128);
    for (let i = 0; i < faces.length; i++) {
      for (let j = i + 1; j < faces.length; j++) {
        result.pairs++;
        const score = verifier.score(embedded[i], embedded[j]);
        result.studentScores.push(score);
        if (score >= rule.threshold) result.studentSame++;
        if (euclidean.score(descriptor(i), descriptor(j)) > teacherThreshold) result.teacherSame++;
      }
    }
    const input = faces.map((f) => ({ image, landmarks: f.landmarks5 }));
    const plain = student.embed(input);
    const flipped = student.embed(input, true);
    const dim = student.dimension;
    faces.forEach((_, i) => {
      const score = verifier.score(plain.subarray(i * dim, (i + 1) * dim), flipped.subarray(i * dim, (i + 1) * dim));
      result.selfScores.push({ label: `${path.basename(file)} face ${i}`, score });
    });
  }
  measured = result;
  return result;
}

describe.skipIf(!available)('shipped student on face-api demo photos (different people in each photo)', () => {
  it('matches each face with its own mirror image, and spreads the scores of different people', () => {
    const { pairs, studentScores, selfScores } = measure();
    const threshold = recognizer.verification!.threshold;
    expect(pairs).toBeGreaterThanOrEqual(20);
    for (const { label, score } of selfScores) expect(score, `${label} vs its mirror`).toBeGreaterThanOrEqual(threshold);
    expect(Math.min(...studentScores)).toBeLessThan(threshold - 0.2);
  });

  // Issue 11's gap, still open: the 24-epoch student called 5 of the 29 pairs "same" with the
  // upright landmark pass (6 without), the teacher 5; the 48-epoch student, better on LFW's 6,000
  // pairs and at 1% false accepts on CelebA, called 7 at its looser CelebA-fitted threshold as
  // the all-int8 file, and 6 as the int8 file with fc1 in 4 bits; stage 2 (PReLU, then the view
  // bank) called 6 at its own CelebA-fitted threshold, and the shipped stage 4 (UTKFace's faces and
  // 17 more epochs) calls 7 at its own. The counts are printed, so this run is where they come from.
  it.fails('calls no more within-photo pairs "same" than the teacher at its LFW threshold', () => {
    const { pairs, studentSame, teacherSame } = measure();
    console.info(`demo photos: the student calls ${studentSame} of ${pairs} different-person pairs "same", the teacher ${teacherSame}`);
    expect(studentSame, `student "same" calls among ${pairs} different-person pairs (teacher: ${teacherSame})`).toBeLessThanOrEqual(teacherSame);
  });
});
