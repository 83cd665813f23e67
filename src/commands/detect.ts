/**
 * mobileid detect <image> [--out annotated.png] [--json] [--input-size N] [--score-threshold T] [--max-faces N]
 *
 * Faces in a JPEG/PNG photo: detector box, score and landmarks. --out writes a copy with the
 * boxes (green), the 68 landmarks (cyan) and the 5 alignment points (red) drawn on it; --json
 * prints {"faces":[{"box":[x,y,w,h],"score":s,"landmarks5":[[x,y],...]}]} as the LAST stdout line.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { DetectorOptions } from '../detector.js';
import { drawPoints, drawRect } from '../draw.js';
import { decodeImage, encodePng, type RgbImage } from '../image.js';
import { FaceRecognizer, type DetectedFace } from '../pipeline.js';
import { CliError } from './cli-error.js';

/** Decodes an image file; a missing file is a usage error, bad bytes an ImageDecodeError naming the file. */
export function readImageFile(file: string): RgbImage {
  if (!existsSync(file)) throw new CliError(`image file ${file} not found`);
  try {
    return decodeImage(new Uint8Array(readFileSync(file)));
  } catch (error) {
    if (error instanceof Error) error.message = `${file}: ${error.message}`;
    throw error;
  }
}

/** The detector options shared by detect and verify. */
export const DETECTOR_CLI_OPTIONS = {
  'input-size': { type: 'string' },
  'score-threshold': { type: 'string' },
  'max-faces': { type: 'string' },
} as const;

export function detectorOptionsFrom(values: { 'input-size'?: string; 'score-threshold'?: string; 'max-faces'?: string }): DetectorOptions {
  const number = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || Number.isNaN(value)) throw new CliError(`--${flag} must be a number, got "${text}"`);
    return value;
  };
  return {
    inputSize: number('input-size', values['input-size']),
    scoreThreshold: number('score-threshold', values['score-threshold']),
    maxFaces: number('max-faces', values['max-faces']),
  };
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** The --json form of one face: pixels to 0.1, score to 1e-4. */
export function faceJson(face: DetectedFace) {
  const { x, y, width, height } = face.box;
  return {
    box: [x, y, width, height].map((v) => round(v, 1)),
    score: round(face.score, 4),
    landmarks5: face.landmarks5.map(([px, py]) => [round(px, 1), round(py, 1)]),
  };
}

/** A copy of the image with boxes and landmarks drawn, line widths scaled to the image. */
export function annotate(image: RgbImage, faces: DetectedFace[]): RgbImage {
  const out = { width: image.width, height: image.height, data: image.data.slice() };
  const unit = Math.max(1, Math.round(Math.max(image.width, image.height) / 600));
  for (const face of faces) {
    const { x, y, width, height } = face.box;
    drawRect(out, x, y, width, height, [0, 230, 0], 2 * unit);
    drawPoints(out, face.landmarks68, [0, 220, 255], unit);
    drawPoints(out, face.landmarks5, [255, 30, 30], 2 * unit);
  }
  return out;
}

export async function detectCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string' }, json: { type: 'boolean', default: false }, ...DETECTOR_CLI_OPTIONS },
  });
  if (positionals.length !== 1) {
    throw new CliError('usage: mobileid detect <image> [--out annotated.png] [--json] [--input-size N] [--score-threshold T] [--max-faces N]');
  }
  const [file] = positionals;
  const options = detectorOptionsFrom(values);
  const image = readImageFile(file);
  const recognizer = await FaceRecognizer.create({ detector: options });
  let faces: DetectedFace[];
  const start = performance.now();
  try {
    faces = recognizer.detectFaces(image);
  } finally {
    recognizer.dispose();
  }
  const ms = performance.now() - start;
  const say = values.json ? console.error : console.log;
  say(`${file}: ${image.width}x${image.height}, ${faces.length} face${faces.length === 1 ? '' : 's'} (${ms.toFixed(0)} ms detection + landmarks)`);
  faces.forEach((face, i) => {
    const { box, score, landmarks5 } = faceJson(face);
    say(`  face ${i + 1}: box x ${box[0]} y ${box[1]} w ${box[2]} h ${box[3]}, score ${score}, eyes ${JSON.stringify(landmarks5.slice(0, 2))}`);
  });
  if (values.out) {
    mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
    writeFileSync(values.out, encodePng(annotate(image, faces)));
    say(`annotated image: ${values.out}`);
  }
  if (values.json) console.log(JSON.stringify({ faces: faces.map(faceJson) }));
}
