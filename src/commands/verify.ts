/**
 * mobileid verify <a> <b> [--json] [--model student.mobileid] [--threshold T] [--verifier cosine|euclidean] [--mirror]
 *
 * Same person or not: the largest face of each photo, embedded by the student and compared.
 * Prints score, threshold, decision and timings; --json prints the result as the LAST stdout line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FaceRecognizer, StudentModelMissingError, type VerifyResult } from '../pipeline.js';
import { CliError } from './cli-error.js';
import { DETECTOR_CLI_OPTIONS, detectorOptionsFrom, faceJson, readImageFile } from './detect.js';

function describe(result: VerifyResult): string[] {
  const { score, threshold, same, verifier, timings: t } = result;
  const decision = same === null ? 'no decision' : same ? 'SAME person' : 'DIFFERENT people';
  return [
    `score ${score === null ? 'n/a' : score.toFixed(4)} (${verifier}${result.mirror ? ', mirror-averaged' : ''}), threshold ${threshold === null ? 'n/a' : threshold.toFixed(4)}: ${decision}`,
    `faces found: A ${result.facesFoundA}, B ${result.facesFoundB}; ${result.note}`,
    `timings: decode ${t.decodeMs.toFixed(0)} ms, detect ${t.detectMs.toFixed(0)} ms, landmarks ${t.landmarksMs.toFixed(0)} ms, embed ${t.embedMs.toFixed(1)} ms, total ${t.totalMs.toFixed(0)} ms`,
  ];
}

export async function verifyCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      model: { type: 'string' },
      threshold: { type: 'string' },
      verifier: { type: 'string' },
      mirror: { type: 'boolean' },
      ...DETECTOR_CLI_OPTIONS,
    },
  });
  if (positionals.length !== 2) {
    throw new CliError('usage: mobileid verify <a> <b> [--json] [--model student.mobileid] [--threshold T] [--verifier cosine|euclidean] [--mirror]');
  }
  if (values.model !== undefined && !existsSync(values.model)) throw new CliError(`model file ${values.model} not found`);
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  if (threshold !== undefined && !Number.isFinite(threshold)) throw new CliError(`--threshold must be a number, got "${values.threshold}"`);
  const detector = detectorOptionsFrom(values);
  // decode before loading models: a bad file fails fast; decoding time is still reported
  const start = performance.now();
  const [a, b] = positionals.map(readImageFile);
  const decodeMs = performance.now() - start;
  const student = values.model === undefined ? undefined : new Uint8Array(readFileSync(values.model));
  const recognizer = await FaceRecognizer.create({ models: { student }, detector });
  let result: VerifyResult;
  try {
    result = recognizer.verify(a, b, {
      threshold,
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
}
