/**
 * A worker thread of `mobileid gallery`: its share of the photos -> largest detected face (or,
 * when the detector finds none, the image taken as a centred face crop) -> landmarks ->
 * embedding. A module of its own (dist/gallery-worker.js in the package), so that a worker never
 * loads the CLI's entry point.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadBundledModel } from '../engine/assets.js';
import { Engine } from '../engine/engine.js';
import { dlibFaceChipTransform } from '../face/align.js';
import { TinyFaceDetector } from '../face/detector.js';
import { LandmarkNet, StudentNet, TeacherNet, type Box } from '../face/networks.js';
import { STUDENT_CROP_HEIGHT } from '../face/student-graph.js';
import { readImageFile } from './files.js';

export interface EmbedJob {
  role: 'gallery-embed';
  files: string[];
  /** The embedding model file, loaded (and checked) once by the main thread. */
  model: Uint8Array;
}

export type EmbedMessage =
  | { type: 'face'; index: number; embedding: Float32Array; box: Box; detected: boolean }
  | { type: 'failed'; index: number; reason: string }
  | { type: 'done' };

async function embedWorker(job: EmbedJob): Promise<void> {
  const engine = await Engine.create();
  const detector = new TinyFaceDetector(engine, await loadBundledModel('detector'));
  const landmarks = new LandmarkNet(engine.loadModel(await loadBundledModel('landmarks68')));
  const loaded = engine.loadModel(job.model);
  const embedder = loaded.inputShape[0] === STUDENT_CROP_HEIGHT ? new StudentNet(loaded) : new TeacherNet(loaded);
  job.files.forEach((file, index) => {
    try {
      const image = readImageFile(file);
      // small inputs (pre-cropped faces) get a matching detector size: cheaper, and faces stay large
      const inputSize = Math.min(416, Math.max(128, Math.ceil(Math.max(image.width, image.height) / 32) * 32));
      const found = detector.detect(image, { inputSize });
      const largest = found.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height)[0];
      const side = Math.min(image.width, image.height) * 0.6;
      const box = largest?.box ?? { x: (image.width - side) / 2, y: (image.height - side) / 2, width: side, height: side };
      const [points] = landmarks.detect([{ image, box }], 2);
      const embedding = embedder instanceof StudentNet
        ? embedder.embed([{ image, landmarks: points }])
        : embedder.embedChips([{ image, chipToImage: dlibFaceChipTransform(points) }]).descriptor;
      parentPort!.postMessage({ type: 'face', index, embedding, box, detected: Boolean(largest) } satisfies EmbedMessage);
    } catch (error) {
      parentPort!.postMessage({ type: 'failed', index, reason: `${(error as Error).name}: ${(error as Error).message}` } satisfies EmbedMessage);
    }
  });
  parentPort!.postMessage({ type: 'done' } satisfies EmbedMessage);
}

if (!isMainThread && (workerData as EmbedJob | undefined)?.role === 'gallery-embed') await embedWorker(workerData as EmbedJob);
