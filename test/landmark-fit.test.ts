/**
 * The face verify() compares, found and aligned from every box the detector gives it:
 * TinyFaceDetector.detectWithCandidates (every input size, every size's boxes) and
 * LandmarkNet.fitBest (the landmarks from the box they settle best in). On two LFW photos where
 * the largest box alone fails (a bystander hides the portrait; an oversized box clumps the
 * landmarks; no face above the score threshold) when ../shared/data is present.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundledModel } from '../src/engine/assets.js';
import { Engine } from '../src/engine/engine.js';
import { InputError } from '../src/errors.js';
import { FALLBACK_INPUT_SIZES, TinyFaceDetector, type Detection } from '../src/face/detector.js';
import type { Point } from '../src/face/landmarks.js';
import { LandmarkNet, type Box } from '../src/face/networks.js';
import { FAINT_FACE_THRESHOLD, FaceRecognizer } from '../src/face/recognizer.js';
import { cropImage, decodeImage, type RgbImage } from '../src/image.js';
import { faceApiDir } from './faceapi-reference.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sample = (name: string) => decodeImage(new Uint8Array(readFileSync(path.join(here, '..', 'demo', 'samples', name))));
const lfwImages = path.join(here, '..', '..', 'shared', 'data', 'lfw', 'images');
const hasLfw = existsSync(lfwImages);
if (!hasLfw) console.warn(`landmark-fit: ${lfwImages} is absent, the LFW cases are skipped`);

let engine: Engine;
let detector: TinyFaceDetector;
let landmarks: LandmarkNet;

beforeAll(async () => {
  engine = await Engine.create();
  detector = new TinyFaceDetector(engine, await loadBundledModel('detector'));
  landmarks = new LandmarkNet(engine.loadModel(await loadBundledModel('landmarks68')));
});

afterAll(() => engine?.dispose());

const side = (box: Box) => Math.max(box.width, box.height);
const eyeCorners = (points: readonly Point[]) => Math.hypot(points[45][0] - points[36][0], points[45][1] - points[36][1]);
const largest = (faces: Detection[]) => faces.reduce((best, d) => (d.box.width * d.box.height > best.box.width * best.box.height ? d : best));

/** `box` scaled about its centre, then moved by (dx, dy) sides. */
function moved(box: Box, scale: number, dx: number, dy: number): Box {
  const s = side(box);
  return { x: box.x + box.width / 2 - (scale * s) / 2 + dx * s, y: box.y + box.height / 2 - (scale * s) / 2 + dy * s, width: scale * s, height: scale * s };
}

describe('LandmarkNet.fitBest', () => {
  it("keeps the detector's box over oversized, shifted and undersized boxes of the same face, in either order", () => {
    for (const name of ['a.jpg', 'b.jpg']) {
      const image = sample(name);
      const [face] = detector.detect(image);
      const settled = landmarks.detect([{ image, box: face.box }], 2, { upright: true })[0];
      for (const poor of [moved(face.box, 1.6, 0, -0.6), moved(face.box, 1.5, -0.3, -0.5), moved(face.box, 0.5, 0, -0.2)]) {
        expect(landmarks.fitBest(image, [poor, face.box], 2, { upright: true })).toEqual({ points: settled, index: 1 });
        expect(landmarks.fitBest(image, [face.box, poor], 2, { upright: true }).index).toBe(0);
      }
    }
  });

  it('with one box gives detect()\'s points; with none an InputError', () => {
    const image = sample('a.jpg');
    const [face] = detector.detect(image);
    expect(landmarks.fitBest(image, [face.box], 2)).toEqual({ points: landmarks.detect([{ image, box: face.box }], 2)[0], index: 0 });
    expect(() => landmarks.fitBest(image, [], 2)).toThrow(InputError);
  });
});

describe('TinyFaceDetector.detectWithCandidates', () => {
  const perSize = (image: RgbImage) => [416, ...FALLBACK_INPUT_SIZES].flatMap((inputSize) => detector.detect(image, { inputSize, fallbackSizes: [] }));

  it("runs every size: the candidates are each size's own boxes; the faces follow detect()'s rule", () => {
    const portrait = sample('a.jpg');
    const cut = Math.round(portrait.width * 0.15);
    const filling = cropImage(portrait, cut, cut, portrait.width - 2 * cut, portrait.width - 2 * cut);
    for (const image of [portrait, filling]) {
      const { faces, candidates } = detector.detectWithCandidates(image);
      expect(candidates).toEqual(perSize(image));
      expect(candidates.length).toBeGreaterThan(1);
      expect(faces).toHaveLength(1);
      expect(candidates).toContainEqual(faces[0]);
    }
    const group = decodeImage(new Uint8Array(readFileSync(path.join(faceApiDir, 'demo', 'sample3.jpg'))));
    expect(detector.detectWithCandidates(group).faces).toEqual(detector.detect(group));
  });
});

describe.runIf(hasLfw)('the largest face on LFW photos where its box alone fails', () => {
  let recognizer: FaceRecognizer;
  beforeAll(async () => {
    recognizer = await FaceRecognizer.create({ engine, models: { student: await loadBundledModel('teacher') } });
  });
  afterAll(() => recognizer?.dispose());
  const photo = (name: string) => decodeImage(new Uint8Array(readFileSync(path.join(lfwImages, name))));

  it('a large bystander: detect() stops at him; the largest face is the centred portrait', () => {
    const image = photo('Chok_Tong_Goh/Chok_Tong_Goh_0001.jpg');
    const holdsCentre = ({ x, y, width, height }: Box) => x < image.width / 2 && x + width > image.width / 2 && y < image.height / 2 && y + height > image.height / 2;
    expect(holdsCentre(largest(detector.detect(image)).box)).toBe(false);
    const face = recognizer.embedLargestFace(image)!.face;
    expect(holdsCentre(face.box)).toBe(true);
    expect(eyeCorners(face.landmarks68)).toBeGreaterThan(0.3 * side(face.box));
  });

  it('an oversized box: its own landmarks clump; the kept ones spread over the face', () => {
    const image = photo('Bob_Curtis/Bob_Curtis_0001.jpg');
    const box = largest(detector.detect(image)).box;
    const clumped = landmarks.detect([{ image, box }], 2, { upright: true })[0];
    expect(eyeCorners(clumped)).toBeLessThan(0.15 * side(box));
    const face = recognizer.embedLargestFace(image)!.face;
    expect(eyeCorners(face.landmarks68)).toBeGreaterThan(0.3 * side(face.box));
  });

  it('no face above the score threshold: the largest face is the best fainter one, and verify says so; a threshold the caller set stands', () => {
    const bytes = new Uint8Array(readFileSync(path.join(lfwImages, 'Joe_Vandever/Joe_Vandever_0001.jpg')));
    expect(recognizer.detectFaces(bytes)).toEqual([]);
    const { face, found } = recognizer.embedLargestFace(bytes)!;
    expect(found).toBeGreaterThan(0);
    expect(face.score).toBeGreaterThanOrEqual(FAINT_FACE_THRESHOLD);
    expect(face.score).toBeLessThan(0.5);
    const result = recognizer.verify(bytes, bytes);
    expect(result.score).toBeCloseTo(1, 5);
    expect(result.note).toContain('fainter one');
    expect(recognizer.embedLargestFace(bytes, { detector: { scoreThreshold: 0.5 } })).toBeNull();
  });
});
