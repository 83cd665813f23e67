/**
 * The upright landmark refinement (FaceRecognizer's uprightLandmarks, LandmarkNet.detect's
 * `upright`): on a face-api demo photo turned by +-30 degrees, the landmarks found and mapped
 * back to the upright photo land where the upright photo's are, closer than without the
 * refinement; on upright faces it moves the landmarks little. Plus the measuring helpers of
 * npm run landmark-rotation.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/engine.js';
import { InputError } from '../src/errors.js';
import { applySimilarity, invertSimilarity } from '../src/face/align.js';
import type { Point } from '../src/face/landmarks.js';
import { eyeLineAngle } from '../src/face/networks.js';
import { FaceRecognizer, type DetectedFace } from '../src/face/recognizer.js';
import { decodeImage, type RgbImage } from '../src/image.js';
import { normalisedPointError, rotatePhoto, toOriginalPoints } from '../src/tools/landmark-rotation.js';
import { faceApiDir } from './faceapi-reference.js';

/** 68 points of a face-like layout: only the eye centres (36..41, 42..47) matter to the helpers. */
function layout(leftEye: Point, rightEye: Point): Point[] {
  return Array.from({ length: 68 }, (_, i): Point => (i >= 36 && i <= 41 ? leftEye : i >= 42 && i <= 47 ? rightEye : [(leftEye[0] + rightEye[0]) / 2, leftEye[1] + 20 + i]));
}

describe('measuring helpers', () => {
  it('rotatePhoto turns the photo about its centre and toOriginal maps its points back', () => {
    const image: RgbImage = { width: 41, height: 31, data: new Uint8Array(41 * 31 * 3) };
    const [x, y] = [30, 10];
    image.data.fill(255, (y * 41 + x) * 3, (y * 41 + x) * 3 + 3);
    const rotated = rotatePhoto(image, 90);
    const [rx, ry] = applySimilarity(invertSimilarity(rotated.toOriginal), [x, y]).map(Math.round);
    // +90 degrees (clockwise on screen) about (20, 15): (30, 10) -> (25, 25)
    expect([rx, ry]).toEqual([25, 25]);
    expect(rotated.image.data[(ry * 41 + rx) * 3]).toBe(255);
    const back = toOriginalPoints([[rx, ry]], rotated)[0];
    expect(back[0]).toBeCloseTo(x, 9);
    expect(back[1]).toBeCloseTo(y, 9);
    expect(rotatePhoto(image, 0).image.data).toEqual(image.data);
  });

  it('normalisedPointError is the mean point distance over the eye distance; eyeLineAngle the eye line', () => {
    const reference = layout([10, 50], [30, 50]);
    const shifted = reference.map(([px, py]): Point => [px + 3, py + 4]);
    expect(normalisedPointError(shifted, reference)).toBeCloseTo(5 / 20, 12);
    expect(eyeLineAngle(reference)).toBe(0);
    expect(eyeLineAngle(layout([10, 50], [20, 60]))).toBeCloseTo(Math.PI / 4, 12);
  });
});

describe('upright landmark refinement', () => {
  let engine: Engine;
  let before: FaceRecognizer;
  let after: FaceRecognizer;
  beforeAll(async () => {
    engine = await Engine.create();
    [before, after] = await Promise.all([false, true].map((upright) => FaceRecognizer.create({ engine, uprightLandmarks: upright })));
  });
  afterAll(() => {
    before?.dispose();
    after?.dispose();
    engine?.dispose();
  });

  const photo = (i: number) => decodeImage(new Uint8Array(readFileSync(path.join(faceApiDir, 'demo', `sample${i}.jpg`))));
  /** Per upright face: the smallest error of any face found in the rotated photo, mapped back. */
  const rotationErrors = (recognizer: FaceRecognizer, upright: DetectedFace[], image: RgbImage, degrees: number) => {
    const rotated = rotatePhoto(image, degrees);
    const found = recognizer.detectFaces(rotated.image).map((f) => toOriginalPoints(f.landmarks68, rotated));
    return upright.map((face) => Math.min(...found.map((points) => normalisedPointError(points, face.landmarks68))));
  };

  it('maps the landmarks of a face turned by +-30 degrees back onto the upright ones, closer than without it', () => {
    const image = photo(3);
    const uprightBefore = before.detectFaces(image);
    const uprightAfter = after.detectFaces(image);
    expect(uprightAfter.length).toBe(3);
    for (const degrees of [30, -30]) {
      const errorsBefore = rotationErrors(before, uprightBefore, image, degrees);
      const errorsAfter = rotationErrors(after, uprightAfter, image, degrees);
      for (const [k, error] of errorsAfter.entries()) {
        expect(error, `sample3 face ${k} at ${degrees} degrees`).toBeLessThan(0.05);
        expect(error, `sample3 face ${k} at ${degrees} degrees`).toBeLessThan(errorsBefore[k]);
      }
    }
  });

  it('moves the landmarks of upright faces little', () => {
    let checked = 0;
    for (const i of [1, 3]) {
      const image = photo(i);
      const plain = before.detectFaces(image);
      const refined = after.detectFaces(image);
      expect(refined.map((f) => f.box)).toEqual(plain.map((f) => f.box));
      for (const [k, face] of plain.entries()) {
        if (Math.abs(eyeLineAngle(face.landmarks68)) > (5 * Math.PI) / 180) continue; // a tilted face: expected to move
        expect(normalisedPointError(refined[k].landmarks68, face.landmarks68), `sample${i} face ${k}`).toBeLessThan(0.03);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });

  it('rejects a non-boolean uprightLandmarks with an InputError', async () => {
    await expect(FaceRecognizer.create({ engine, uprightLandmarks: 'yes' as unknown as boolean })).rejects.toThrow(InputError);
  });
});
