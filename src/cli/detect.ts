/**
 * mobileid detect <image>: faces in a JPEG/PNG photo, with detector box, score and landmarks.
 * The options are in `detectCommand.spec` below (`mobileid detect --help` prints them).
 */
import { FaceRecognizer, type DetectedFace } from '../face/recognizer.js';
import { defineCommand } from './args.js';
import { LANDMARK_REGIONS } from '../face/landmarks.js';
import { annotate, DETECTOR_OPTIONS, detectorOptionsFrom, faceJson, faceJsonWithLandmarks } from './faces.js';
import { imageFormatOf, readImageFile, writeImageFile } from './files.js';

export const detectCommand = defineCommand(
  {
    name: 'detect',
    summary: 'faces in a photo: boxes, scores, 5 and 68 landmarks',
    args: ['<image>'],
    description: 'Reads a JPEG or PNG photo and prints one line per face. --out draws the boxes (green), the 68\nlandmarks (cyan) and the 5 alignment points (red) on a copy of the photo.',
    options: {
      out: { type: 'string', value: 'FILE', defaultText: 'not written', description: 'write the annotated photo to FILE (.png, .jpg or .jpeg)' },
      json: { type: 'boolean', default: false, description: 'print {"faces":[{"box":[x,y,w,h],"score","landmarks5","landmarks":{"leftEye",...},"landmarks68"}],"regions":{"jaw":[0,16],...}} as the last stdout line (the text goes to stderr)' },
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
    if (values.json) console.log(JSON.stringify({ faces: faces.map(faceJsonWithLandmarks), regions: LANDMARK_REGIONS }));
  },
);
