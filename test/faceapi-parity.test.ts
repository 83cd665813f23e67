/**
 * face-api's networks converted to model files and run by this package's engine, against
 * face-api itself on tfjs-wasm, on the same input tensors: generated smooth images and faces
 * cropped from face-api's demo photos.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { decodeModel } from '../src/engine/model-format.js';
import type { Model } from '../src/engine/model.js';
import { landmarksToImage } from '../src/face/networks.js';
import { demoPhoto, faceApiInput, loadFaceApi, maxAbsDiff, preprocess, smoothImage, type FaceApi, type Tf } from './faceapi-reference.js';

const modelsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'models');
const readModel = (file: string) => new Uint8Array(readFileSync(path.join(modelsDir, file)));

let tf: Tf;
let faceapi: FaceApi;
let engine: Engine;
/** Faces found by face-api's TinyFaceDetector in two demo photos, cropped as face-api crops them. */
let faces: Tensor3D[];

beforeAll(async () => {
  ({ tf, faceapi } = await loadFaceApi());
  engine = await Engine.create();
  faces = [];
  for (const [photo, count] of [[1, 2], [2, 1]]) {
    const image = demoPhoto(tf, photo);
    const detections = await faceapi.detectAllFaces(faceApiInput(image), new faceapi.TinyFaceDetectorOptions({ inputSize: 416 }));
    expect(detections.length).toBeGreaterThanOrEqual(count);
    const crops = await faceapi.extractFaceTensors(image as unknown as Parameters<FaceApi['extractFaceTensors']>[0], detections.slice(0, count));
    faces.push(...(crops as unknown as Tensor3D[]));
    image.dispose();
  }
});

afterAll(() => {
  tf?.dispose(faces);
  engine?.dispose();
});

/** The exact pixel tensor face-api feeds a net (its own square padding and bilinear resize). */
async function faceApiBatchTensor(image: Tensor3D, size: number, centred: boolean): Promise<Tensor4D> {
  const netInput = await faceapi.toNetInput(faceApiInput(image));
  return netInput.toBatchTensor(size, centred) as unknown as Tensor4D;
}

function load(file: string): Model {
  return engine.loadModel(readModel(file));
}

describe('teacher (dlib ResNet)', () => {
  it('128-d descriptor within 1e-3 of face-api, batch of generated images and demo faces', async () => {
    const model = load('teacher-dlib-resnet.mobileid');
    const inputs: Tensor4D[] = [
      tf.tensor4d(smoothImage(11, 150, 150), [1, 150, 150, 3]),
      tf.tensor4d(smoothImage(12, 150, 150), [1, 150, 150, 3]),
      ...(await Promise.all(faces.map((face) => faceApiBatchTensor(face, 150, true)))),
    ];
    const pixels = new Float32Array(inputs.flatMap((t) => [...t.dataSync()]));
    const [hidden, descriptors] = model.runAll(preprocess(pixels, model.preprocess!), inputs.length);
    const fc = decodeModel(readModel('teacher-dlib-resnet.mobileid')).tensors.get('fc')!.data;
    for (let i = 0; i < inputs.length; i++) {
      const expected = (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(faceApiInput(inputs[i]))) as Float32Array;
      const ours = descriptors.subarray(i * 128, (i + 1) * 128);
      expect(maxAbsDiff(ours, expected), `image ${i}`).toBeLessThan(1e-3);
      // The first output is the hidden layer the descriptor is computed from: ReLU'd, and fc . hidden = descriptor.
      const h = hidden.subarray(i * 256, (i + 1) * 256);
      expect(Math.min(...h)).toBeGreaterThanOrEqual(0);
      const recomputed = Array.from({ length: 128 }, (_, o) => h.reduce((sum, v, k) => sum + v * fc[k * 128 + o], 0));
      expect(maxAbsDiff(recomputed, ours)).toBeLessThan(1e-4);
    }
    tf.dispose(inputs);
    model.dispose();
  });
});

describe('68-point landmarks', () => {
  it('within 0.5 px of face-api on demo face crops, mapped back through the square padding', async () => {
    const model = load('landmarks68.mobileid');
    for (const face of faces) {
      const [height, width] = face.shape;
      expect(width).not.toBe(height); // the crops exercise the padding to a square
      const input = await faceApiBatchTensor(face, 112, true);
      const [raw] = model.runAll(preprocess(input.dataSync() as Float32Array, model.preprocess!), 1);
      const ours = landmarksToImage(raw, { x: 0, y: 0, width, height }).flat();
      const theirs = (await faceapi.nets.faceLandmark68Net.detectLandmarks(faceApiInput(face))) as InstanceType<FaceApi['FaceLandmarks68']>;
      expect(maxAbsDiff(ours, theirs.positions.flatMap((p) => [p.x, p.y]))).toBeLessThan(0.5);
      input.dispose();
    }
    model.dispose();
  });

  it('raw outputs agree on generated 112x112 inputs (batch 2)', async () => {
    const model = load('landmarks68.mobileid');
    const pixels = [smoothImage(21, 112, 112), smoothImage(22, 112, 112)];
    const [raw] = model.runAll(preprocess(new Float32Array([...pixels[0], ...pixels[1]]), model.preprocess!), 2);
    for (let i = 0; i < 2; i++) {
      const input = tf.tensor4d(pixels[i], [1, 112, 112, 3]);
      const expected = faceapi.nets.faceLandmark68Net.forwardInput(await faceapi.toNetInput(faceApiInput(input)));
      // x 112: in pixels of the network input
      expect(maxAbsDiff(raw.subarray(i * 136, (i + 1) * 136), expected.dataSync()) * 112).toBeLessThan(0.5);
      tf.dispose([input, expected as unknown as Tensor4D]);
    }
    model.dispose();
  });
});

describe('TinyFaceDetector', () => {
  it('13x13x25 output grid within 1e-3 of face-api (demo photo and a generated image)', async () => {
    const model = load('tiny-face-detector.mobileid');
    const photo = demoPhoto(tf, 3);
    const inputs = [await faceApiBatchTensor(photo, 416, false), tf.tensor4d(smoothImage(31, 416, 416), [1, 416, 416, 3])];
    for (const input of inputs) {
      const [grid] = model.runAll(preprocess(input.dataSync() as Float32Array, model.preprocess!), 1);
      const expected = await faceapi.nets.tinyFaceDetector.forward(faceApiInput(input), 416);
      expect(expected.shape).toEqual([1, 13, 13, 25]);
      expect(maxAbsDiff(grid, expected.dataSync())).toBeLessThan(1e-3);
      expected.dispose();
    }
    tf.dispose([photo, ...inputs]);
    model.dispose();
  });
});
