/**
 * FaceRecognizer end to end on raw photos: detection + landmarks against face-api's pipeline,
 * embeddings against the student run directly, verification decisions and notes, and the
 * awkward inputs (no face, 1x1, 8000x8000, corrupt and non-image bytes); the detect/verify CLI.
 * The student here is a random-weight one, so these tests check plumbing, not recognition
 * accuracy (the shipped student has its own tests: student-shipped, student-demo-photos).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { detectCommand } from '../src/cli/detect.js';
import { verifyCommand } from '../src/cli/verify.js';
import { crc32 } from '../src/engine/crc32.js';
import { Engine } from '../src/engine/engine.js';
import { encodeModel } from '../src/engine/model-format.js';
import { DisposedError, FileReadError, ModelFormatError } from '../src/errors.js';
import { alignForStudent } from '../src/face/align.js';
import { boxIou } from '../src/face/detector.js';
import { landmarks68To5 } from '../src/face/landmarks.js';
import { StudentNet, TeacherNet } from '../src/face/networks.js';
import { FaceRecognizer, StudentModelMissingError, VerifyOptionError, type DetectedFace } from '../src/face/recognizer.js';
import { initWeights, studentGraph } from '../src/face/student-graph.js';
import { cropImage, decodeImage, ImageDecodeError, ImageShapeError, type RgbImage } from '../src/image.js';
import { faceApiDir, faceApiInput, loadFaceApi } from './faceapi-reference.js';

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const photoFile = (i: number) => path.join(faceApiDir, 'demo', `sample${i}.jpg`);
const photoBytes = (i: number) => readFileSync(photoFile(i)); // a Node Buffer, as the CLI passes

function studentBytes(meta?: Record<string, unknown>): Uint8Array {
  const graph = studentGraph();
  return encodeModel({ ...graph, meta }, initWeights(graph, 7));
}

const flat = (width: number, height: number, value = 128): RgbImage => ({ width, height, data: new Uint8Array(width * height * 3).fill(value) });

let engine: Engine;
let recognizer: FaceRecognizer;

beforeAll(async () => {
  engine = await Engine.create();
  recognizer = await FaceRecognizer.create({ engine, models: { student: studentBytes() } });
});

afterAll(() => {
  recognizer?.dispose();
  engine?.dispose();
});

const largest = (faces: DetectedFace[]) => faces.reduce((a, b) => (b.box.width * b.box.height > a.box.width * a.box.height ? b : a));

describe('detectFaces', () => {
  it("finds the faces face-api's pipeline finds, with landmarks within 3% of the face size of face-api's", async () => {
    const { tf, faceapi } = await loadFaceApi();
    for (const i of [1, 2, 3]) {
      const image = decodeImage(photoBytes(i));
      const ours = recognizer.detectFaces(image);
      const tensor = tf.tensor3d(Int32Array.from(image.data), [image.height, image.width, 3], 'int32');
      const theirs = await faceapi.detectAllFaces(faceApiInput(tensor), new faceapi.TinyFaceDetectorOptions({ inputSize: 416 })).withFaceLandmarks();
      tensor.dispose();
      expect(ours.length, `sample${i}`).toBe(theirs.length);
      for (const t of theirs) {
        const box = t.detection.box;
        const face = ours.find((o) => boxIou(o.box, box) > 0.9)!;
        expect(face, `sample${i}: a face matching face-api's box`).toBeDefined();
        expect(face.landmarks68).toHaveLength(68);
        // ours runs a second landmark pass on the box the first implies, turned upright; face-api runs one
        const meanDistance = t.landmarks.positions.reduce((s, p, k) => s + Math.hypot(p.x - face.landmarks68[k][0], p.y - face.landmarks68[k][1]), 0) / 68;
        expect(meanDistance / box.width, `sample${i}`).toBeLessThan(0.03);
        expect(face.landmarks5).toEqual(landmarks68To5(face.landmarks68));
      }
    }
  });

  it('takes a decoded image or the file bytes (a Buffer) alike', () => {
    const fromBytes = recognizer.detectFaces(photoBytes(1));
    expect(fromBytes).toHaveLength(3);
    expect(recognizer.detectFaces(decodeImage(photoBytes(1)))).toEqual(fromBytes);
    expect(recognizer.detectFaces(photoBytes(1), { maxFaces: 1 })).toEqual(fromBytes.slice(0, 1));
  });

  it('a flat image and a 1x1 image have no faces: empty results, not errors', () => {
    expect(recognizer.detectFaces(flat(640, 480))).toEqual([]);
    expect(recognizer.detectFaces(flat(1, 1, 200))).toEqual([]);
    expect(recognizer.embedFaces(flat(1, 1, 200))).toEqual([]);
  });

  it('corrupt, non-image and malformed inputs give typed errors and the recognizer keeps working', () => {
    const before = recognizer.detectFaces(photoBytes(2));
    const jpeg = photoBytes(2);
    const bad: Array<[unknown, typeof ImageDecodeError | typeof ImageShapeError]> = [
      [jpeg.subarray(0, 2000), ImageDecodeError], // truncated JPEG
      [new TextEncoder().encode('name,score\nalice,1\n'), ImageDecodeError], // a CSV file
      [new TextEncoder().encode('GIF89a....'), ImageDecodeError],
      [new Uint8Array(0), ImageDecodeError],
      [null, ImageDecodeError],
      [{ width: 10, height: 10, data: new Uint8Array(5) }, ImageShapeError],
    ];
    for (const [input, type] of bad) {
      expect(() => recognizer.detectFaces(input as RgbImage), String(input)).toThrow(type);
      expect(() => recognizer.verify(input as RgbImage, jpeg)).toThrow(type);
    }
    expect(recognizer.detectFaces(photoBytes(2))).toEqual(before);
  });

  it('an 8000x8000 PNG decodes and its faces are found where a 1600-wide photo shows them, x5', () => {
    // The photo enlarged 5x fills the width, black below as in the detector's own padding, so
    // the detector sees (almost) the same input. Grey keeps the test's memory down (~0.75 GB
    // peak; the decoded image is 192 MB of RGB either way).
    const photo = cropImage(grey(decodeImage(photoBytes(2))), 320, 0, 1600, 1367);
    const expected = recognizer.detectFaces(photo);
    expect(expected.length).toBeGreaterThan(0);
    const scale = 5;
    const huge = decodeImage(bigGreyPng(photo, 8000, scale));
    expect([huge.width, huge.height]).toEqual([8000, 8000]);
    const faces = recognizer.detectFaces(huge);
    expect(faces).toHaveLength(expected.length);
    expected.forEach(({ box }, i) => {
      const scaled = { x: box.x * scale, y: box.y * scale, width: box.width * scale, height: box.height * scale };
      expect(boxIou(faces[i].box, scaled)).toBeGreaterThan(0.9);
    });
    // one past the decoder's pixel limit: refused from the header, before any pixel memory
    const tooBig = pngBytes(9000, 9000, 0, deflateSync(new Uint8Array(0)));
    expect(() => recognizer.detectFaces(tooBig)).toThrow(/exceeds the limit of 65.0 megapixels/);
    expect(recognizer.detectFaces(photo)).toEqual(expected);
  });
});

describe('embedFaces', () => {
  it("gives the student's embedding of each face's 5-point crop, mirror-averaged on request", () => {
    const student = new StudentNet(engine.loadModel(studentBytes()));
    const image = decodeImage(photoBytes(1));
    const plain = recognizer.embedFaces(image);
    const mirrored = recognizer.embedFaces(image, { mirror: true });
    expect(plain).toHaveLength(3);
    expect(recognizer.embeddingSize).toBe(422);
    const faces = plain.map((e) => ({ image, landmarks: e.face.landmarks5 }));
    const direct = student.embed(faces);
    const directMirror = student.embed(faces, true);
    plain.forEach(({ embedding }, i) => {
      expect(embedding).toHaveLength(422);
      expect(Array.from(embedding)).toEqual(Array.from(direct.subarray(i * 422, (i + 1) * 422)));
      const average = Array.from(embedding, (v, k) => (v + directMirror[i * 422 + k]) / 2);
      Array.from(mirrored[i].embedding).forEach((v, k) => expect(v).toBeCloseTo(average[k], 6));
    });
  });

  it("cuts each face's crop at the window the student file declares (meta.distilled.windowScale; absent: 1)", () => {
    const image = decodeImage(photoBytes(1));
    const faces = recognizer.embedFaces(image).map((e) => ({ image, landmarks: e.face.landmarks5 }));
    const wide = new StudentNet(engine.loadModel(studentBytes({ distilled: { windowScale: 1.3 } })));
    const plain = new StudentNet(engine.loadModel(studentBytes()));
    expect([wide.windowScale, plain.windowScale]).toEqual([1.3, 1]);
    // the same crops as cut by alignForStudent at 1.3 (up to its rounding to 8-bit pixels)
    const crops = faces.map((f) => alignForStudent(f.image, f.landmarks, 1.3).chip);
    const gap = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i]))) / Math.max(...b.map(Math.abs));
    expect(gap(wide.embed(faces), wide.embedCrops(crops))).toBeLessThan(0.02);
    expect(gap(plain.embed(faces), plain.embedCrops(crops))).toBeGreaterThan(0.1);
    for (const bad of [0, -1, 'wide', null]) {
      expect(() => new StudentNet(engine.loadModel(studentBytes({ distilled: { windowScale: bad } })))).toThrow(ModelFormatError);
    }
  });

  it('embedLargestFace: the largest face as embedFaces embeds it; the fallback box where the detector finds none', () => {
    const image = decodeImage(photoBytes(1));
    const all = recognizer.embedFaces(image);
    const one = recognizer.embedLargestFace(image)!;
    expect(one.found).toBe(3);
    expect(one.face).toEqual(largest(all.map((e) => e.face)));
    const same = all.find((e) => e.face.box.x === one.face.box.x && e.face.box.y === one.face.box.y)!;
    Array.from(one.embedding).forEach((v, k) => expect(v).toBeCloseTo(same.embedding[k], 6));

    const blank = flat(200, 240);
    expect(recognizer.embedLargestFace(blank)).toBeNull();
    const fallbackBox = { x: 40, y: 60, width: 120, height: 120 };
    const fallback = recognizer.embedLargestFace(blank, { fallbackBox })!;
    expect([fallback.found, fallback.face.box, fallback.face.score]).toEqual([0, fallbackBox, 0]);
    expect(fallback.face.landmarks68).toHaveLength(68);
    expect(fallback.embedding).toHaveLength(422);

    // a face crop: the centred square of 60% of the shorter side (200 * 0.6), unless a box is given
    const crop = recognizer.embedLargestFace(blank, { faceCrop: true })!;
    expect([crop.found, crop.face.box]).toEqual([0, { x: 40, y: 60, width: 120, height: 120 }]);
    expect(recognizer.embedLargestFace(blank, { faceCrop: true, fallbackBox: { x: 0, y: 0, width: 100, height: 100 } })!.face.box.width).toBe(100);
    expect(recognizer.embedLargestFace(image, { faceCrop: true })!.found).toBeGreaterThan(0);
  });

  it("with the teacher as the embedding model, embeds with the teacher's descriptor", async () => {
    const teacherBytes = new Uint8Array(readFileSync(path.join(repoRoot, 'models', 'teacher-dlib-resnet.mobileid')));
    const withTeacher = await FaceRecognizer.create({ engine, models: { student: teacherBytes } });
    const teacherModel = engine.loadModel(teacherBytes);
    const teacher = new TeacherNet(teacherModel);
    const image = decodeImage(photoBytes(2));
    const { face, embedding } = withTeacher.embedLargestFace(image)!;
    expect(withTeacher.embeddingSize).toBe(128);
    expect(Array.from(embedding)).toEqual(Array.from(teacher.embed([{ image, landmarks68: face.landmarks68 }]).descriptor));
    // a photo without a face: no embeddings, not an error (no network run on an empty batch)
    expect(withTeacher.embedFaces(flat(320, 240), { mirror: true })).toEqual([]);
    expect(teacher.embed([]).descriptor.length).toBe(0);
    withTeacher.dispose();
    teacherModel.dispose();
  });
});

describe('verify', () => {
  it('compares the largest face of each image and says so; a photo against itself scores 1', () => {
    const faces = recognizer.detectFaces(photoBytes(1));
    const result = recognizer.verify(photoBytes(1), photoBytes(1), { threshold: 0.5 });
    expect(result.score).toBeCloseTo(1, 6);
    expect(result.same).toBe(true);
    expect(result.verifier).toBe('cosine');
    expect(result.faceA).toEqual(largest(faces));
    expect(result.faceB).toEqual(largest(faces));
    expect([result.facesFoundA, result.facesFoundB]).toEqual([3, 3]);
    expect(result.note).toContain('image A has 3 faces: compared the largest');
    expect(result.timings.detectMs).toBeGreaterThan(0);
    expect(result.timings.totalMs).toBeGreaterThanOrEqual(result.timings.detectMs + result.timings.landmarksMs + result.timings.embedMs);
  });

  it('an image without a face gives no score and a clear note, not an error', () => {
    const result = recognizer.verify(flat(300, 200), photoBytes(2), { threshold: 0.5 });
    expect(result).toMatchObject({ score: null, same: null, faceA: null, facesFoundA: 0, facesFoundB: 1 });
    expect(result.faceB).not.toBeNull();
    expect(result.note).toBe('no face in image A');
    expect(recognizer.verify(photoBytes(2), flat(1, 1)).note).toBe('no face in image B');
  });

  it('without a threshold (none passed, none in the model) there is a score but no decision', () => {
    const result = recognizer.verify(photoBytes(2), photoBytes(3));
    expect(result.score).toEqual(expect.any(Number));
    expect(result).toMatchObject({ threshold: null, same: null });
    expect(result.note).toContain('no decision');
    expect(() => recognizer.verify(photoBytes(2), photoBytes(3), { threshold: NaN })).toThrow(VerifyOptionError);
    expect(() => recognizer.verify(photoBytes(2), photoBytes(3), { verifier: 'jb' as 'cosine' })).toThrow(VerifyOptionError);
  });

  it("uses the model's meta.verification (verifier, threshold, mirror) unless told otherwise", async () => {
    const withMeta = await FaceRecognizer.create({ engine, models: { student: studentBytes({ verification: { verifier: 'cosine', threshold: 0.99, mirror: true } }) } });
    try {
      expect(withMeta.verification).toEqual({ verifier: 'cosine', threshold: 0.99, mirror: true });
      const byDefault = withMeta.verify(photoBytes(2), photoBytes(3));
      expect(byDefault).toMatchObject({ threshold: 0.99, mirror: true, verifier: 'cosine' });
      expect(byDefault.same).toBe(byDefault.score! >= 0.99);
      expect(withMeta.verify(photoBytes(2), photoBytes(3), { mirror: false }).note).toContain('fitted with mirror on');
      expect(withMeta.verify(photoBytes(2), photoBytes(3), { threshold: -1 })).toMatchObject({ threshold: -1, same: true });
      const euclidean = withMeta.verify(photoBytes(2), photoBytes(3), { verifier: 'euclidean' });
      expect(euclidean).toMatchObject({ verifier: 'euclidean', threshold: null, same: null });
      expect(euclidean.score!).toBeLessThan(0);
    } finally {
      withMeta.dispose();
    }
    const malformed = studentBytes({ verification: { verifier: 'jb', threshold: 1 } });
    await expect(FaceRecognizer.create({ engine, models: { student: malformed } })).rejects.toThrow(ModelFormatError);
  });
});

describe('lifecycle', () => {
  it.skipIf(existsSync(path.join(repoRoot, 'models', 'mobileid-student.mobileid')))(
    'without a student model detection works and embedding says what is missing',
    async () => {
      const noStudent = await FaceRecognizer.create({ engine });
      expect(noStudent.detectFaces(photoBytes(2))).toHaveLength(1);
      expect(noStudent.embeddingSize).toBe(0);
      expect(() => noStudent.embedFaces(photoBytes(2))).toThrow(StudentModelMissingError);
      expect(() => noStudent.verify(photoBytes(2), photoBytes(2))).toThrow(/models\.student/);
      noStudent.dispose();
      await expect(verifyCommand.run([photoFile(2), photoFile(2)])).rejects.toThrow(/pass --model/);
    },
  );

  it('dispose() makes further calls throw DisposedError and leaves a borrowed engine usable', async () => {
    const own = await FaceRecognizer.create({ engine, models: { student: studentBytes() } });
    own.dispose();
    expect(() => own.detectFaces(photoBytes(2))).toThrow(DisposedError);
    expect(() => own.verify(photoBytes(2), photoBytes(2))).toThrow(DisposedError);
    own.dispose(); // twice is fine
    expect(recognizer.detectFaces(photoBytes(2))).toHaveLength(1);
  });
});

describe('CLI', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mobileid-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs a command in-process and returns what it printed to stdout, line by line. */
  async function stdout(run: () => Promise<void>): Promise<string[]> {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...m: unknown[]) => void lines.push(m.join(' ')));
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await run();
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
    return lines;
  }

  it('detect --json prints the faces as its last line and --out writes the annotated PNG', async () => {
    const out = path.join(dir, 'annotated.png');
    const lines = await stdout(() => detectCommand.run([photoFile(1), '--json', '--out', out]));
    const { faces } = JSON.parse(lines.at(-1)!);
    const expected = recognizer.detectFaces(photoBytes(1));
    expect(faces).toHaveLength(expected.length);
    faces.forEach((f: { box: number[]; score: number; landmarks5: number[][] }, i: number) => {
      const { x, y, width, height } = expected[i].box;
      f.box.forEach((v, k) => expect(v).toBeCloseTo([x, y, width, height][k], 0));
      expect(f.score).toBeCloseTo(expected[i].score, 3);
      expect(f.landmarks5).toHaveLength(5);
    });
    const annotated = decodeImage(new Uint8Array(readFileSync(out)));
    const original = decodeImage(photoBytes(1));
    expect([annotated.width, annotated.height]).toEqual([original.width, original.height]);
    // the box outline is drawn: the top-left corner pixel of the first box is green
    const at = (Math.round(expected[0].box.y) * original.width + Math.round(expected[0].box.x)) * 3;
    expect(Array.from(annotated.data.subarray(at, at + 3))).toEqual([0, 230, 0]);
  });

  it('verify --json prints score, threshold, decision and timings as its last line; bad files are typed errors', async () => {
    const model = path.join(dir, 'student.mobileid');
    writeFileSync(model, studentBytes());
    const lines = await stdout(() => verifyCommand.run([photoFile(2), photoFile(2), '--model', model, '--threshold', '0.5', '--json']));
    const result = JSON.parse(lines.at(-1)!);
    expect(result).toMatchObject({ threshold: 0.5, same: true, verifier: 'cosine', facesFoundA: 1, facesFoundB: 1 });
    expect(result.score).toBeCloseTo(1, 6);
    expect(result.timings.decodeMs).toBeGreaterThan(0);
    expect(result.faceA.box).toHaveLength(4);
    const text = path.join(dir, 'notes.txt');
    writeFileSync(text, 'not an image');
    await expect(verifyCommand.run([photoFile(2), text, '--model', model])).rejects.toThrow(ImageDecodeError);
    await expect(verifyCommand.run([photoFile(2), path.join(dir, 'missing.jpg'), '--model', model])).rejects.toThrow(FileReadError);
  });
});

/** The image in grey (mean of R, G, B), still as RGB. */
function grey(image: RgbImage): RgbImage {
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i += 3) data.fill(Math.round((image.data[i] + image.data[i + 1] + image.data[i + 2]) / 3), i, i + 3);
  return { ...image, data };
}

/**
 * An 8-bit grey PNG of side x side pixels: a grey RGB `image` enlarged `scale` times (nearest
 * neighbour) in the top-left corner, black elsewhere. Repeated rows use PNG's "up" filter
 * (all zeros), so deflate is fast.
 */
function bigGreyPng(image: RgbImage, side: number, scale: number): Uint8Array {
  const stride = 1 + side;
  const raw = new Uint8Array(stride * side);
  for (let y = 0; y < side; y++) {
    const sy = Math.floor(y / scale);
    if (y > 0 && (y % scale !== 0 || sy > image.height)) {
      raw[y * stride] = 2; // up: same as the row above
      continue;
    }
    const row = raw.subarray(y * stride + 1, (y + 1) * stride);
    if (sy < image.height) {
      for (let x = 0; x < Math.min(side, image.width * scale); x++) row[x] = image.data[(sy * image.width + Math.floor(x / scale)) * 3];
    }
  }
  return pngBytes(side, side, 0, deflateSync(raw, { level: 1 }));
}

/** A PNG file from its parts: IHDR (8-bit, colour type 0 = grey or 2 = RGB), one IDAT, IEND. */
function pngBytes(width: number, height: number, colourType: number, idat: Uint8Array): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, colourType, 0, 0, 0], 8);
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
