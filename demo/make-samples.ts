/**
 * Regenerates demo/samples/*.jpg from face-api's MIT-licensed demo photos
 * (node_modules/@vladmandic/face-api/demo): 200x200 portrait crops (the browser demo's pairs and
 * the runtime tests' input) and three group photos scaled down to 800 px wide (the CLI demo's
 * default photos, shipped in the package). Run: npx tsx demo/make-samples.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { encodeJpeg } from '../src/cli/files.js';
import { cropImage, decodeImage, mirrorImage, resizeBilinear, type RgbImage } from '../src/image.js';

const PHOTOS = new URL('../node_modules/@vladmandic/face-api/demo/', import.meta.url);
const SIZE = 200;
const GROUP_WIDTH = 800;
const GROUPS = [
  { file: 'group1.jpg', photo: 'sample1.jpg' },
  { file: 'group3.jpg', photo: 'sample3.jpg' },
  { file: 'group5.jpg', photo: 'sample5.jpg' },
];

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
  save(s.file, encodeJpeg(img, 90));
}

for (const g of GROUPS) {
  const photo = decodeImage(new Uint8Array(readFileSync(new URL(g.photo, PHOTOS))));
  save(g.file, encodeJpeg(shrink(photo, GROUP_WIDTH), 75));
}

/** Halvings first (bilinear at exactly 1/2 averages 2x2 pixels), so fine detail does not alias. */
function shrink(img: RgbImage, width: number): RgbImage {
  while (img.width >= 2 * width) img = resizeBilinear(img, Math.round(img.width / 2), Math.round(img.height / 2));
  return resizeBilinear(img, width, Math.round((img.height * width) / img.width));
}

function save(name: string, bytes: Uint8Array): void {
  writeFileSync(new URL(`samples/${name}`, import.meta.url), bytes);
  console.log(`demo/samples/${name}: ${bytes.length} bytes`);
}
