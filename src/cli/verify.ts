/**
 * mobileid verify <a> <b>: same person or not. The largest face of each photo, embedded by the
 * student and compared; prints score, threshold, decision and timings.
 */
import { FaceRecognizer, StudentModelMissingError, type VerifyResult } from '../face/recognizer.js';
import { defineCommand } from './args.js';
import { CliError } from './cli-error.js';
import { DETECTOR_OPTIONS, detectorOptionsFrom, faceJson } from './faces.js';
import { readImageFile, readModelFile } from './files.js';

function describe(result: VerifyResult): string[] {
  const { score, threshold, same, verifier, timings: t } = result;
  const decision = same === null ? 'no decision' : same ? 'SAME person' : 'DIFFERENT people';
  return [
    `score ${score === null ? 'n/a' : score.toFixed(4)} (${verifier}${result.mirror ? ', mirror-averaged' : ''}), threshold ${threshold === null ? 'n/a' : threshold.toFixed(4)}: ${decision}`,
    `faces found: A ${result.facesFoundA}, B ${result.facesFoundB}; ${result.note}`,
    `timings: decode ${t.decodeMs.toFixed(0)} ms, detect ${t.detectMs.toFixed(0)} ms, landmarks ${t.landmarksMs.toFixed(0)} ms, embed ${t.embedMs.toFixed(1)} ms, total ${t.totalMs.toFixed(0)} ms`,
  ];
}

export const verifyCommand = defineCommand(
  {
    name: 'verify',
    summary: 'same person or not: the largest face of two photos, with score, threshold and timings',
    args: ['<a>', '<b>'],
    description: 'The score is the verifier\'s similarity of the two embeddings (cosine: up to 1; euclidean: minus the distance; higher = more alike);\n"same" when it reaches the threshold stored in the model file (fitted on the CelebA identity set, not on LFW).',
    options: {
      json: { type: 'boolean', default: false, description: 'print the result as JSON on the last stdout line (the text goes to stderr)' },
      model: { type: 'string', value: 'FILE', defaultText: 'the shipped student', description: 'a student model file (.mobileid) instead of the shipped one' },
      threshold: { type: 'number', value: 'T', defaultText: "the one stored in the model file", description: '"same" when score >= T' },
      verifier: { type: 'string', choices: ['cosine', 'euclidean'], defaultText: "the model's, euclidean for the shipped student", description: 'how two embeddings are compared' },
      mirror: { type: 'boolean', defaultText: "the model's, on for the shipped student", description: 'average each embedding with that of the mirrored face' },
      ...DETECTOR_OPTIONS,
    },
    examples: ['mobileid verify a.jpg b.jpg', 'mobileid verify a.jpg b.jpg --json', 'mobileid verify a.jpg b.jpg --model my-student.mobileid --threshold 0.99'],
  },
  async ({ values, positionals }) => {
    const student = values.model === undefined ? undefined : readModelFile('model', values.model);
    // decode before loading models: a bad file fails fast; decoding time is still reported
    const start = performance.now();
    const [a, b] = positionals.map(readImageFile);
    const decodeMs = performance.now() - start;
    const recognizer = await FaceRecognizer.create({ models: { student }, detector: detectorOptionsFrom(values) });
    let result: VerifyResult;
    try {
      result = recognizer.verify(a, b, {
        threshold: values.threshold,
        mirror: values.mirror,
        verifier: values.verifier as 'cosine' | 'euclidean' | undefined,
      });
    } catch (error) {
      if (error instanceof StudentModelMissingError) throw new CliError(`${error.message}; pass --model <student.mobileid>`);
      throw error;
    } finally {
      recognizer.dispose();
    }
    result.timings.decodeMs += decodeMs;
    result.timings.totalMs += decodeMs;
    const say = values.json ? console.error : console.log;
    for (const line of describe(result)) say(line);
    if (values.json) {
      const { faceA, faceB, ...rest } = result;
      console.log(JSON.stringify({ ...rest, faceA: faceA && faceJson(faceA), faceB: faceB && faceJson(faceB) }));
    }
  },
);
