// A tiny UTKFace-like data set for tools that read photos: five cuts of the left face of face-api's
// demo photo sample1.jpg (MIT), written as PNG files under <root>/utkface/images.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cropImage, decodeImage, encodePng, mirrorImage, type RgbImage } from '../src/image.js';
import { faceApiDir } from './faceapi-reference.js';

/** The face cut like an LFW image: the head centred with some background. */
export function sampleFace(): RgbImage {
  const photo = decodeImage(new Uint8Array(readFileSync(path.join(faceApiDir, 'demo', 'sample1.jpg'))));
  return cropImage(photo, 300, 340, 400, 400);
}

/** Writes the five cuts (face0.png ... face4.png) and returns the images folder. */
export function writeFaceSlice(root: string): string {
  const face = sampleFace();
  const images = path.join(root, 'utkface', 'images');
  mkdirSync(images, { recursive: true });
  const cuts = [face, mirrorImage(face), cropImage(face, 20, 10, 370, 380), cropImage(face, 0, 25, 380, 370), mirrorImage(cropImage(face, 15, 0, 380, 390))];
  cuts.forEach((image, i) => writeFileSync(path.join(images, `face${i}.png`), encodePng(image)));
  return images;
}
