/**
 * TinyFaceDetector on this engine against face-api's own (tfjs-wasm): the letterboxed input
 * tensor, and the detections (count, boxes, scores) on face-api's demo photos at the shipped
 * 416 input and at re-planned sizes; decoding and NMS on hand-made inputs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFaceApiModel } from '../scripts/convert-faceapi.js';
import { Engine } from '../src/engine/engine.js';
import { decodeModel, encodeModel } from '../src/engine/model-format.js';
import {
  DetectorModelError,
  DetectorOptionError,
  TinyFaceDetector,
  boxIou,
  decodeGrid,
  detectorGraphForSize,
  letterboxToTensor,
  nonMaxSuppression,
  type Detection,
} from '../src/face/detector.js';
import { initWeights, studentGraph } from '../src/face/student-graph.js';
import { cropImage, decodeImage, resizeBilinear, type RgbImage } from '../src/image.js';
import { convertTinyFaceDetector } from '../src/tools/faceapi-convert.js';
import { faceApiDir, faceApiInput, loadFaceApi, maxAbsDiff, preprocess, type FaceApi, type Tf } from './faceapi-reference.js';

const detectorBytes = new Uint8Array(
  readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'models', 'tiny-face-detector.mobileid')),
);
const photoBytes = (i: number) => new Uint8Array(readFileSync(path.join(faceApiDir, 'demo', `sample${i}.jpg`)));

let tf: Tf;
let faceapi: FaceApi;
let engine: Engine;
let detector: TinyFaceDetector;

beforeAll(async () => {
  ({ tf, faceapi } = await loadFaceApi());
  engine = await Engine.create();
  detector = new TinyFaceDetector(engine, detectorBytes);
});

afterAll(() => engine?.dispose());

function imageTensor(image: RgbImage) {
  return tf.tensor3d(Int32Array.from(image.data), [image.height, image.width, 3], 'int32');
}

/** face-api's TinyFaceDetector on the same decoded pixels. */
async function faceApiDetections(image: RgbImage, inputSize: number): Promise<Detection[]> {
  const tensor = imageTensor(image);
  const found = await faceapi.detectAllFaces(faceApiInput(tensor), new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: 0.5 }));
  tensor.dispose();
  return found.map((d) => ({ box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height }, score: d.score }));
}

/** Every face-api detection has exactly one of ours with IoU >= 0.9 and the same score (1e-3). */
function expectSameDetections(ours: Detection[], theirs: Detection[], label: string): void {
  expect(ours.length, `${label}: face count`).toBe(theirs.length);
  const used = new Set<number>();
  for (const t of theirs) {
    const ious = ours.map((o) => boxIou(o.box, t.box));
    const best = ious.indexOf(Math.max(...ious));
    expect(used.has(best), `${label}: two face-api boxes match one of ours`).toBe(false);
    used.add(best);
    expect(ious[best], `${label}: IoU`).toBeGreaterThanOrEqual(0.9);
    expect(Math.abs(ours[best].score - t.score), `${label}: score`).toBeLessThan(1e-3);
  }
}

describe('letterbox', () => {
  it("matches face-api's toBatchTensor (pad bottom/right, resizeBilinear without corner alignment)", async () => {
    const preprocessing = detector['decoded'].graph.preprocess!;
    const wide = decodeImage(photoBytes(1));
    // a tall image enlarged to the input: padding on the right and interpolation into it
    const tall: RgbImage = { width: 7, height: 13, data: Uint8Array.from({ length: 7 * 13 * 3 }, (_, i) => (i * 37) % 256) };
    for (const [image, size] of [[wide, 416], [tall, 64]] as const) {
      const tensor = imageTensor(image);
      const netInput = await faceapi.toNetInput(faceApiInput(tensor));
      const batch = netInput.toBatchTensor(size, false);
      const expected = preprocess(batch.dataSync() as Float32Array, preprocessing);
      expect(maxAbsDiff(letterboxToTensor(image, size, preprocessing), expected), `${image.width}x${image.height}`).toBeLessThan(1e-4); // float32 rounding: < 0.03 grey levels
      tf.dispose([tensor, batch as unknown as import('@tensorflow/tfjs').Tensor]);
    }
  });
});

describe('detections vs face-api', () => {
  it('same faces on all six demo photos at 416: box IoU >= 0.9, scores within 1e-3', async () => {
    let total = 0;
    for (let i = 1; i <= 6; i++) {
      const image = decodeImage(photoBytes(i));
      const ours = detector.detect(image);
      expectSameDetections(ours, await faceApiDetections(image, 416), `sample${i}`);
      for (let k = 1; k < ours.length; k++) expect(ours[k].score).toBeLessThanOrEqual(ours[k - 1].score);
      total += ours.length;
    }
    expect(total).toBeGreaterThan(10); // the photos are group photos: the comparison is not vacuous
  });

  it('same faces at re-planned input sizes 224, 320 and 608', async () => {
    for (const [photo, inputSize] of [[3, 224], [6, 320], [4, 608]] as const) {
      const image = decodeImage(photoBytes(photo));
      const ours = detector.detect(image, { inputSize });
      expect(ours.length).toBeGreaterThan(0);
      expectSameDetections(ours, await faceApiDetections(image, inputSize), `sample${photo} at ${inputSize}`);
    }
  });
});

describe('re-planning for other input sizes', () => {
  it("gives the converter's own graph (same pads and shapes) at 224, 320 and 608, and the shipped one at 416", () => {
    const decoded = decodeModel(detectorBytes);
    expect(detectorGraphForSize(decoded, 416).layers).toEqual(decoded.graph.layers);
    const { manifest, bin } = readFaceApiModel('tiny_face_detector_model');
    for (const size of [224, 320, 608]) {
      const converted = convertTinyFaceDetector(manifest, bin, size).graph;
      const replanned = detectorGraphForSize(decoded, size);
      expect(replanned.layers, `${size}`).toEqual(converted.layers);
      expect(replanned.input).toEqual(converted.input);
      expect(replanned.meta?.gridSize).toBe(converted.meta?.gridSize);
      expect(replanned.meta?.outputShapes).toEqual(converted.meta?.outputShapes);
    }
  });
});

describe('decoding and suppression', () => {
  const anchors: Array<[number, number]> = [[1, 2], [3, 3]];

  it('decodes one cell as face-api does: sigmoid offsets, exp sizes times anchors, in pixels of the padded square', () => {
    const cells = 4;
    const grid = new Float32Array(cells * cells * 10).fill(-20); // objectness -20: score ~2e-9
    const at = (2 * cells + 1) * 10 + 5; // row 2, col 1, anchor 1
    grid.set([0, Math.log(3), Math.log(0.5), 0, 2], at);
    const found = decodeGrid(grid, cells, anchors, 400, 0.5);
    expect(found).toHaveLength(1);
    const pixelsPerCell = 100;
    const cx = (1 + 0.5) * pixelsPerCell;
    const cy = (2 + 0.75) * pixelsPerCell; // sigmoid(log 3) = 0.75
    const w = 0.5 * 3 * pixelsPerCell;
    const h = 1 * 3 * pixelsPerCell;
    expect(found[0].score).toBeCloseTo(1 / (1 + Math.exp(-2)), 12);
    // the grid holds float32 values (log 3 is rounded): 1e-5 px
    expect(found[0].box.x).toBeCloseTo(cx - w / 2, 5);
    expect(found[0].box.y).toBeCloseTo(cy - h / 2, 5);
    expect(found[0].box.width).toBeCloseTo(w, 5);
    expect(found[0].box.height).toBeCloseTo(h, 5);
    expect(decodeGrid(grid, cells, anchors, 400, 0)).toHaveLength(cells * cells * 2);
    expect(() => decodeGrid(grid.subarray(1), cells, anchors, 400, 0.5)).toThrow(DetectorModelError);
  });

  it('IoU and greedy NMS: drops boxes overlapping a better one by more than the threshold, keeps the rest, best first', () => {
    const box = (x: number, y: number, s = 10) => ({ x, y, width: s, height: s });
    expect(boxIou(box(0, 0), box(0, 0))).toBe(1);
    expect(boxIou(box(0, 0), box(5, 0))).toBeCloseTo(50 / 150, 12);
    expect(boxIou(box(0, 0), box(20, 20))).toBe(0);
    const detections: Detection[] = [
      { box: box(1, 0), score: 0.6 }, // IoU with the best 9/11 = 0.82: dropped
      { box: box(0, 0), score: 0.9 },
      { box: box(6, 0), score: 0.8 }, // IoU with the best 40/160 = 0.25: kept
      { box: box(7, 0), score: 0.7 }, // IoU with (6,0) 0.82: dropped by it, although kept by the best
      { box: box(50, 50), score: 0.55 },
    ];
    const kept = nonMaxSuppression(detections, 0.4);
    expect(kept.map((d) => d.score)).toEqual([0.9, 0.8, 0.55]);
    expect(nonMaxSuppression(detections, 0.4, 2).map((d) => d.score)).toEqual([0.9, 0.8]);
    expect(nonMaxSuppression(detections, 1).length).toBe(5);
    expect(nonMaxSuppression([], 0.4)).toEqual([]);
  });
});

describe('fallback input sizes', () => {
  /** The sample portrait cut to its central 70%: the face fills the photo. */
  const faceFillingPhoto = () => {
    const image = decodeImage(new Uint8Array(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'demo', 'samples', 'a.jpg'))));
    const side = Math.round(image.width * 0.7);
    const offset = Math.round((image.width - side) / 2);
    return cropImage(image, offset, offset, side, side);
  };

  it('a face that fills the photo: missed at 416 alone, found by the default fallback at the same place as at 160', () => {
    const image = faceFillingPhoto();
    expect(detector.detect(image, { fallbackSizes: [] })).toEqual([]);
    const found = detector.detect(image);
    expect(found).toHaveLength(1);
    const at160 = detector.detect(image, { inputSize: 160, fallbackSizes: [] });
    expect(found).toEqual(detector.detect(image, { fallbackSizes: [224] }).length ? detector.detect(image, { inputSize: 224, fallbackSizes: [] }) : at160);
    expect(found[0].box.width).toBeGreaterThan(image.width * 0.5);
  });

  it('a group photo of small faces: the fallback adds no face (it only looks for large ones)', () => {
    const image = decodeImage(photoBytes(3));
    expect(detector.detect(image)).toEqual(detector.detect(image, { fallbackSizes: [] }));
  });

  it('a portrait with a small face in a corner: 416 finds only the small face, the fallback adds the portrait', () => {
    const portrait = faceFillingPhoto();
    const small = decodeImage(new Uint8Array(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'demo', 'samples', 'b.jpg'))));
    const side = 400;
    const image = resizeBilinear(portrait, side, side);
    const corner = resizeBilinear(small, 70, 70);
    for (let y = 0; y < 70; y++) image.data.set(corner.data.subarray(y * 70 * 3, (y + 1) * 70 * 3), y * side * 3);
    const first = detector.detect(image, { fallbackSizes: [] });
    expect(first).toHaveLength(1);
    expect(first[0].box.width).toBeLessThan(0.3 * side);
    const found = detector.detect(image);
    expect(found).toHaveLength(2);
    expect(Math.max(...found.map((d) => d.box.width))).toBeGreaterThan(0.4 * side);
    expect(found).toEqual(expect.arrayContaining(first));
  });
});

describe('inputs and options', () => {
  it('a flat image and a 1x1 image have no faces', () => {
    expect(detector.detect({ width: 640, height: 480, data: new Uint8Array(640 * 480 * 3).fill(128) })).toEqual([]);
    expect(detector.detect({ width: 1, height: 1, data: new Uint8Array([200, 150, 120]) })).toEqual([]);
  });

  it('rejects bad options and models that are not the detector with typed errors', () => {
    const image = decodeImage(photoBytes(3));
    for (const options of [
      { inputSize: 100 }, { inputSize: 0 }, { inputSize: 4096 }, { scoreThreshold: 1 }, { scoreThreshold: NaN }, { iouThreshold: 0 }, { maxFaces: 0 }, { maxFaces: 1.5 },
      { fallbackSizes: [100] }, { fallbackSizes: 224 as unknown as number[] },
    ]) {
      expect(() => detector.detect(image, options), JSON.stringify(options)).toThrow(DetectorOptionError);
    }
    expect(detector.detect(image, { maxFaces: 1 }).length).toBe(1);
    const student = studentGraph();
    expect(() => new TinyFaceDetector(engine, encodeModel(student, initWeights(student)))).toThrow(DetectorModelError);
  });
});
