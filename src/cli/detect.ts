/**
 * mobileid detect <image>: faces in a JPEG/PNG photo, with detector box, score and landmarks.
 * The options are in `detectCommand.spec` below (`mobileid detect --help` prints them).
 */
import type { DetectorOptions } from '../face/detector.js';
import { FaceRecognizer, type DetectedFace } from '../face/recognizer.js';
import type { RgbImage } from '../image.js';
import { defineCommand, type OptionSpec } from './args.js';
import { drawPoints, drawRect } from './draw.js';
import { imageFormatOf, readImageFile, writeImageFile } from './files.js';

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
} as const satisfies Record<string, OptionSpec>;

export function detectorOptionsFrom(values: { 'input-size'?: number; 'score-threshold'?: number; 'max-faces'?: number }): DetectorOptions {
  return { inputSize: values['input-size'], scoreThreshold: values['score-threshold'], maxFaces: values['max-faces'] };
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

export const detectCommand = defineCommand(
  {
    name: 'detect',
    summary: 'faces in a photo: boxes, scores, 5 and 68 landmarks',
    args: ['<image>'],
    description: 'Reads a JPEG or PNG photo and prints one line per face. --out draws the boxes (green), the 68\nlandmarks (cyan) and the 5 alignment points (red) on a copy of the photo.',
    options: {
      out: { type: 'string', value: 'FILE', defaultText: 'not written', description: 'write the annotated photo to FILE (.png, .jpg or .jpeg)' },
      json: { type: 'boolean', default: false, description: 'print {"faces":[{"box":[x,y,w,h],"score","landmarks5"}]} as the last stdout line (the text goes to stderr)' },
      ...DETECTOR_OPTIONS,
    },
    examples: ['mobileid detect photo.jpg', 'mobileid detect photo.jpg --out annotated.png --json', 'mobileid detect crowd.jpg --input-size 608 --score-threshold 0.3'],
  },
  async ({ values, positionals: [file] }) => {
    if (values.out !== undefined) imageFormatOf('out', values.out);
    const image = readImageFile(file);
    const recognizer = await FaceRecognizer.create({ detector: detectorOptionsFrom(values) });
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
    if (values.out !== undefined) {
      writeImageFile('out', values.out, annotate(image, faces));
      say(`annotated image: ${values.out}`);
    }
    if (values.json) console.log(JSON.stringify({ faces: faces.map(faceJson) }));
  },
);
