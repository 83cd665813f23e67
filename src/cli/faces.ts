/** What the commands that find faces share: the detector options, a face as JSON, the annotated picture. */
import { checkDetectorOptions, DetectorOptionError, FALLBACK_INPUT_SIZES, type DetectorOptions } from '../face/detector.js';
import type { Point } from '../face/landmarks.js';
import type { DetectedFace } from '../face/recognizer.js';
import type { RgbImage } from '../image.js';
import type { OptionSpec } from './args.js';
import { CliError } from './cli-error.js';
import { drawPoints, drawRect } from './draw.js';

/** The detector options shared by detect and verify. */
export const DETECTOR_OPTIONS = {
  'input-size': {
    type: 'integer', min: 32, max: 2048, multipleOf: 32, value: 'N', defaultText: "the detector model's 416",
    description: 'side of the square detector input; larger finds smaller faces in big photos but is slower (time grows with N^2), smaller is faster for photos of one large face',
  },
  'score-threshold': {
    type: 'number', min: 0, max: 0.999, value: 'T', defaultText: "the detector model's 0.5",
    description: 'keep detections scoring above T (0..1); lower finds more faces (and more false ones), higher keeps only clear faces',
  },
  'max-faces': { type: 'integer', min: 1, value: 'N', defaultText: 'no limit', description: 'keep at most the N best faces' },
  'fallback-sizes': {
    type: 'string', value: 'N,N,...|none', defaultText: FALLBACK_INPUT_SIZES.join(','),
    description: 'input sizes tried in turn when nothing is found at --input-size (faces that fill the photo are found at smaller sizes); none turns the fallback off',
  },
} as const satisfies Record<string, OptionSpec>;

/** Worker threads of the commands that embed many photos (embed, identify). */
export const WORKERS_OPTION = {
  workers: { type: 'integer', min: 1, max: 256, value: 'N', defaultText: 'the number of cores', description: 'worker threads that decode, detect and embed' },
} as const satisfies Record<string, OptionSpec>;

/** --fallback-sizes: "none" or comma-separated multiples of 32. */
function parseFallbackSizes(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  if (text === 'none') return [];
  const sizes = text.split(',').map((t) => (t.trim() === '' ? NaN : Number(t)));
  try {
    checkDetectorOptions({ fallbackSizes: sizes });
  } catch (error) {
    if (error instanceof DetectorOptionError) throw new CliError(`--fallback-sizes "${text}" (none, or sizes separated by commas): ${error.message}`);
    throw error;
  }
  return sizes;
}

export function detectorOptionsFrom(values: { 'input-size'?: number; 'score-threshold'?: number; 'max-faces'?: number; 'fallback-sizes'?: string }): DetectorOptions {
  return {
    inputSize: values['input-size'], scoreThreshold: values['score-threshold'], maxFaces: values['max-faces'],
    fallbackSizes: parseFallbackSizes(values['fallback-sizes']),
  };
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

const pointJson = ([px, py]: Point) => [round(px, 1), round(py, 1)];

/** The --json form of one face: pixels to 0.1, score to 1e-4. */
export function faceJson(face: DetectedFace) {
  const { x, y, width, height } = face.box;
  return {
    box: [x, y, width, height].map((v) => round(v, 1)),
    score: round(face.score, 4),
    landmarks5: face.landmarks5.map(pointJson),
  };
}

/**
 * faceJson with every landmark: the 5 by name, and the 68 (iBUG order; LANDMARK_REGIONS gives
 * each region's index range), for detect --json.
 */
export function faceJsonWithLandmarks(face: DetectedFace) {
  const named = Object.fromEntries(Object.entries(face.landmarks).map(([name, point]) => [name, pointJson(point)]));
  return { ...faceJson(face), landmarks: named, landmarks68: face.landmarks68.map(pointJson) };
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
