/**
 * Converts face-api's shipped networks into this package's model files:
 *   models/teacher-dlib-resnet.mobileid   (dlib ResNet face recognition: 256-d hidden + 128-d descriptor)
 *   models/landmarks68.mobileid           (FaceLandmark68Net)
 *   models/tiny-face-detector.mobileid    (TinyFaceDetector, 416x416 input)
 * Storage follows the source: q8 where face-api ships 8-bit weights, f32 where it ships floats.
 *
 *   npx tsx scripts/convert-faceapi.ts
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  convertFaceLandmark68Net,
  convertFaceRecognitionNet,
  convertTinyFaceDetector,
  encodeConvertedNet,
  type ConvertedNet,
  type FaceApiManifest,
} from '../src/tools/faceapi-convert.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const faceApiModelDir = path.join(path.dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'model');

/** Reads a face-api model: its manifest and all its shards concatenated in manifest order. */
export function readFaceApiModel(name: string): { manifest: FaceApiManifest; bin: Uint8Array } {
  const manifest = JSON.parse(readFileSync(path.join(faceApiModelDir, `${name}-weights_manifest.json`), 'utf8')) as FaceApiManifest;
  const shards = manifest.flatMap((group) => group.paths).map((p) => readFileSync(path.join(faceApiModelDir, p)));
  return { manifest, bin: new Uint8Array(Buffer.concat(shards)) };
}

const targets: Array<[file: string, source: string, convert: (m: FaceApiManifest, b: Uint8Array) => ConvertedNet]> = [
  ['teacher-dlib-resnet.mobileid', 'face_recognition_model', convertFaceRecognitionNet],
  ['landmarks68.mobileid', 'face_landmark_68_model', convertFaceLandmark68Net],
  ['tiny-face-detector.mobileid', 'tiny_face_detector_model', (m, b) => convertTinyFaceDetector(m, b)],
];

function main(): void {
  const outDir = path.join(repoRoot, 'models');
  mkdirSync(outDir, { recursive: true });
  for (const [file, source, convert] of targets) {
    const { manifest, bin } = readFaceApiModel(source);
    const bytes = encodeConvertedNet(convert(manifest, bin));
    writeFileSync(path.join(outDir, file), bytes);
    console.log(`${file}: ${bytes.length} bytes (from ${source}, ${bin.length} bytes)`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
