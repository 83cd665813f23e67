/**
 * Regenerates demo/samples/*.jpg: 200x200 portrait crops of face-api's MIT-licensed demo
 * photos (node_modules/@vladmandic/face-api/demo). Run: npx tsx demo/make-samples.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { cropImage, decodeImage, mirrorImage, resizeBilinear, type RgbImage } from '../src/image.js';
import { toRgba } from '../src/runtime/pixels.js';

const PHOTOS = new URL('../node_modules/@vladmandic/face-api/demo/', import.meta.url);
const SIZE = 200;

interface Sample {
  file: string;
  photo: string;
  /** Face centre and square side of the crop, in photo pixels (picked where the detector is confident). */
  cx: number;
  cy: number;
  side: number;
  mirror?: boolean;
  brightness?: number;
}

const SAMPLES: Sample[] = [
  { file: 'a.jpg', photo: 'sample1.jpg', cx: 524, cy: 490, side: 600 },
  // The same face as a.jpg, cut tighter, mirrored and brighter: a "same person" pair for the demo.
  { file: 'a-variant.jpg', photo: 'sample1.jpg', cx: 534, cy: 480, side: 440, mirror: true, brightness: 1.15 },
  { file: 'b.jpg', photo: 'sample3.jpg', cx: 620, cy: 450, side: 520 },
];

function brighten(img: RgbImage, factor: number): RgbImage {
  return { ...img, data: img.data.map((v) => Math.min(255, Math.round(v * factor))) };
}

for (const s of SAMPLES) {
  const photo = decodeImage(new Uint8Array(readFileSync(new URL(s.photo, PHOTOS))));
  let img = resizeBilinear(cropImage(photo, Math.round(s.cx - s.side / 2), Math.round(s.cy - s.side / 2), s.side, s.side), SIZE, SIZE);
  if (s.mirror) img = mirrorImage(img);
  if (s.brightness) img = brighten(img, s.brightness);
  const file = jpeg.encode({ data: toRgba(img), width: SIZE, height: SIZE }, 90).data;
  writeFileSync(new URL(`samples/${s.file}`, import.meta.url), file);
  console.log(`demo/samples/${s.file}: ${file.length} bytes`);
}
