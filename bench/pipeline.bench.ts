/**
 * Photo in, embeddings out, per face: detection (TinyFaceDetector 416) + 68 landmarks +
 * alignment + embedding, on face-api's six demo group photos (already decoded; decoding is the
 * same JPEG decoder for both and left out).
 *   ours          FaceRecognizer.embedFaces: tiny detector, landmarks (two passes), 47x55 crop, student
 *   ours-teacher  the same detection and landmarks, then dlib's ResNet on the 150x150 chip
 *                 (face-api's own recognition network: equal work, engine against engine)
 *   face-api      detectAllFaces(TinyFaceDetector 416).withFaceLandmarks().withFaceDescriptors()
 *                 on tfjs-wasm, one thread
 * and, detection alone, per photo (the demo photos, and every 550th LFW photo when
 * ../shared/data is there: small photos where the tiny detector often needs its fallback sizes):
 *   detect-ours      TinyFaceDetector with default options (416, then the fallback sizes)
 *   detect-ssd       face-api's SSD MobileNetV1 (minConfidence 0.5), tfjs-wasm, one thread
 *   detect-tiny      face-api's TinyFaceDetector 416, tfjs-wasm, one thread
 * and one face per photo, as verify() compares photos, per photo (the same two photo sets):
 *   largest-ours       FaceRecognizer.embedLargestFace: every detector size, the landmarks from the
 *                      face's best-settling box, a fainter face when none passes the threshold, student
 *   largest-tiny       face-api detectSingleFace(TinyFaceDetector 416).withFaceLandmarks().withFaceDescriptor()
 *   largest-ssd        the same with face-api's SSD MobileNetV1 (minConfidence 0.5)
 * One thread each; runners alternate within every round so machine noise hits them alike; the
 * median over rounds of (round time / faces, or / photos) is reported. The last stdout line is JSON.
 *
 *   npm run bench:pipeline -- [--rounds N]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Tensor3D } from '@tensorflow/tfjs';
import { loadBundledModel } from '../src/engine/assets.js';
import { Engine } from '../src/engine/engine.js';
import { encodeModel } from '../src/engine/model-format.js';
import { TinyFaceDetector } from '../src/face/detector.js';
import { TeacherNet } from '../src/face/networks.js';
import { FaceRecognizer } from '../src/face/recognizer.js';
import { initWeights, studentGraph } from '../src/face/student-graph.js';
import { decodeImage, type RgbImage } from '../src/image.js';
import { faceApiDir, faceApiInput, loadFaceApi } from '../test/faceapi-reference.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 7;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Runs over all photos; returns the number of units (faces, or photos) the time is divided by. */
type Runner = () => Promise<number>;

/** Median over rounds of (round time / units) per runner, runners alternating in every round after a warm-up round. */
async function alternate(runners: Record<string, Runner>, label: string): Promise<{ median: Record<string, number>; units: Record<string, number> }> {
  const perUnit: Record<string, number[]> = Object.fromEntries(Object.keys(runners).map((k) => [k, []]));
  const units: Record<string, number> = {};
  for (let round = -1; round < rounds; round++) {
    for (const [name, run] of Object.entries(runners)) {
      const start = performance.now();
      const n = await run();
      const ms = performance.now() - start;
      units[name] = n;
      if (round >= 0) perUnit[name].push(ms / n); // round -1 warms up
    }
    if (round >= 0) console.error(`round ${round + 1}/${rounds}: ${Object.entries(perUnit).map(([k, v]) => `${k} ${v.at(-1)!.toFixed(1)}`).join(', ')} ms/${label}`);
  }
  return { median: Object.fromEntries(Object.entries(perUnit).map(([k, v]) => [k, median(v)])), units };
}

const LFW_IMAGES = '../shared/data/lfw/images';

/** Every 550th LFW photo (by path; 25 of 13,233), or none without the data. */
function lfwSample(): RgbImage[] {
  if (!existsSync(LFW_IMAGES)) {
    console.error(`${LFW_IMAGES} not found: detection timed on the demo photos only`);
    return [];
  }
  const files = readdirSync(LFW_IMAGES).sort().flatMap((person) => readdirSync(path.join(LFW_IMAGES, person)).sort().map((f) => path.join(LFW_IMAGES, person, f)));
  return files.filter((_, i) => i % 550 === 0).map((file) => decodeImage(new Uint8Array(readFileSync(file))));
}

async function main() {
  const { tf, faceapi } = await loadFaceApi();
  const photos: RgbImage[] = [1, 2, 3, 4, 5, 6].map((i) => decodeImage(new Uint8Array(readFileSync(path.join(faceApiDir, 'demo', `sample${i}.jpg`)))));
  const tensors = photos.map((p) => tf.tensor3d(Int32Array.from(p.data), [p.height, p.width, 3], 'int32') as Tensor3D);

  const bundledStudent = existsSync(new URL('../models/mobileid-student.mobileid', import.meta.url));
  const student = bundledStudent ? await loadBundledModel('mobileid') : encodeModel(studentGraph(), initWeights(studentGraph(), 1));
  const engine = await Engine.create();
  const recognizer = await FaceRecognizer.create({ engine, models: { student } });
  const teacher = new TeacherNet(engine.loadModel(await loadBundledModel('teacher')));

  const runners: Record<string, Runner> = {
    ours: async () => photos.reduce((n, image) => n + recognizer.embedFaces(image).length, 0),
    'ours-teacher': async () => photos.reduce((n, image) => {
      const faces = recognizer.detectFaces(image);
      if (faces.length) teacher.embed(faces.map((f) => ({ image, landmarks68: f.landmarks68 })));
      return n + faces.length;
    }, 0),
    'face-api': async () => {
      let n = 0;
      for (const tensor of tensors) {
        const found = await faceapi
          .detectAllFaces(faceApiInput(tensor), new faceapi.TinyFaceDetectorOptions({ inputSize: 416 }))
          .withFaceLandmarks()
          .withFaceDescriptors();
        n += found.length;
      }
      return n;
    },
  };

  const { median: result, units: faces } = await alternate(runners, 'face');
  console.log(`faces: ${JSON.stringify(faces)} on 6 photos; student: ${bundledStudent ? 'bundled' : 'random weights (same architecture)'}`);
  for (const [name, ms] of Object.entries(result)) console.log(`${name.padEnd(13)} ${ms.toFixed(1)} ms/face (median of ${rounds})`);
  const speedup = result['face-api'] / result.ours;
  console.log(`face-api / ours: ${speedup.toFixed(2)}x; face-api / ours-teacher: ${(result['face-api'] / result['ours-teacher']).toFixed(2)}x`);

  await faceapi.nets.ssdMobilenetv1.loadFromDisk(path.join(faceApiDir, 'model'));
  const detector = new TinyFaceDetector(engine, await loadBundledModel('detector'));
  const sets: [string, RgbImage[]][] = [['demo', photos], ['lfw', lfwSample()]];
  /** Per photo set: ms per photo of each runner (alternating) and in how many photos it found a face. */
  const perPhoto = async (kind: string, runners: Record<string, (image: RgbImage, tensor: Tensor3D) => boolean | Promise<boolean>>) => {
    const out: Record<string, { photos: number; ms_per_photo: Record<string, number>; photos_with_a_face: Record<string, number> }> = {};
    const pad = Math.max(...Object.keys(runners).map((name) => name.length)) + 1;
    for (const [set, images] of sets) {
      if (!images.length) continue;
      const imageTensors = images.map((p) => tf.tensor3d(Int32Array.from(p.data), [p.height, p.width, 3], 'int32') as Tensor3D);
      const found: Record<string, number> = {};
      const timed = Object.fromEntries(Object.entries(runners).map(([name, run]): [string, Runner] => [name, async () => {
        found[name] = 0;
        for (let i = 0; i < images.length; i++) {
          const hit = run(images[i], imageTensors[i]);
          if (hit instanceof Promise ? await hit : hit) found[name]++;
        }
        return images.length;
      }]));
      const { median: msPerPhoto } = await alternate(timed, `photo (${set}${kind})`);
      tf.dispose(imageTensors);
      for (const [name, ms] of Object.entries(msPerPhoto)) console.log(`${set}: ${name.padEnd(pad)} ${ms.toFixed(1)} ms/photo (median of ${rounds}), a face in ${found[name]} of ${images.length} photos`);
      out[set] = { photos: images.length, ms_per_photo: msPerPhoto, photos_with_a_face: found };
    }
    return out;
  };
  const tiny = new faceapi.TinyFaceDetectorOptions({ inputSize: 416 });
  const ssd = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  const detectAll = (options: typeof tiny | typeof ssd) => async (_: RgbImage, tensor: Tensor3D) => (await faceapi.detectAllFaces(faceApiInput(tensor), options)).length > 0;
  const single = (options: typeof tiny | typeof ssd) => async (_: RgbImage, tensor: Tensor3D) =>
    (await faceapi.detectSingleFace(faceApiInput(tensor), options).withFaceLandmarks().withFaceDescriptor()) !== undefined;
  const detection = Object.fromEntries(Object.entries(await perPhoto('', {
    'detect-ours': (image) => detector.detect(image).length > 0,
    'detect-ssd': detectAll(ssd),
    'detect-tiny': detectAll(tiny),
  })).map(([set, r]) => [set, {
    ...r, ssd_over_ours: r.ms_per_photo['detect-ssd'] / r.ms_per_photo['detect-ours'], tiny_over_ours: r.ms_per_photo['detect-tiny'] / r.ms_per_photo['detect-ours'],
  }]));
  const largest = Object.fromEntries(Object.entries(await perPhoto(', one face', {
    'largest-ours': (image) => recognizer.embedLargestFace(image) !== null,
    'largest-tiny': single(tiny),
    'largest-ssd': single(ssd),
  })).map(([set, r]) => [set, {
    ...r, tiny_over_ours: r.ms_per_photo['largest-tiny'] / r.ms_per_photo['largest-ours'], ssd_over_ours: r.ms_per_photo['largest-ssd'] / r.ms_per_photo['largest-ours'],
  }]));
  tf.dispose(tensors);
  detector.dispose();
  recognizer.dispose();
  engine.dispose();
  console.log(JSON.stringify({
    bench: 'pipeline', rounds, photos: 6, faces, student: bundledStudent ? 'bundled' : 'random',
    ms_per_face: result, speedup_vs_faceapi: speedup, speedup_teacher_vs_faceapi: result['face-api'] / result['ours-teacher'],
    detection, largest_face: largest, machine: `${process.platform} ${process.arch}, node ${process.version}`,
  }));
}

await main();
