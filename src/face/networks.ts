/**
 * The face networks on top of the engine: 68 landmarks from a face box, the teacher's chip
 * embedding (256-d hidden layer + 128-d descriptor) and the student's embedding. Each takes
 * images plus geometry and does its own cropping, so callers never touch tensors.
 */
import type { Preprocess } from '../engine/graph.js';
import type { Model } from '../engine/model.js';
import { InputError } from '../errors.js';
import type { RgbImage } from '../image.js';
import {
  TEACHER_CHIP_SIZE,
  dlibFaceChipTransform,
  studentCropTransform,
  warpSimilarityToTensor,
  type BorderMode,
  type Similarity,
} from './align.js';
import type { Point } from './landmarks.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from './student-graph.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Where a face detector's box sits relative to the 68 landmarks found in it, as multiples of
 * the landmarks' extent (the larger side of their bounding box): measured with face-api's SSD
 * on 180 UTKFace training images by scripts/calibrate-landmark-box.ts. The landmark net was
 * trained on such boxes, so a second pass on this box corrects a poor first box.
 */
export const LANDMARK_BOX = { side: 1.1215, dx: 0.0017, dy: -0.1094 } as const;

const LANDMARK_INPUT = 112;

function requirePreprocess(model: Model): Preprocess {
  if (!model.preprocess) throw new InputError(`model "${model.graph.name}" declares no input preprocessing`);
  return model.preprocess;
}

function checkModelInput(model: Model, h: number, w: number): void {
  const [mh, mw, mc] = model.inputShape;
  if (mh !== h || mw !== w || mc !== 3) {
    throw new InputError(`model "${model.graph.name}" takes ${mh}x${mw}x${mc} input, this stage makes ${h}x${w}x3`);
  }
}

/** One face for a network input: `toImage` maps input pixels to image pixels; mirror flips the input. */
interface FaceWarp {
  image: RgbImage;
  toImage: Similarity;
  mirror?: boolean;
}

/** Warps each face into its slot of one preprocessed NHWC batch of height x width x 3 inputs. */
function warpBatch(faces: readonly FaceWarp[], height: number, width: number, preprocess: Preprocess, border: BorderMode): Float32Array {
  const size = height * width * 3;
  const input = new Float32Array(faces.length * size);
  faces.forEach((f, i) =>
    warpSimilarityToTensor(f.image, f.toImage, width, height, input, i * size, { preprocess, border, mirror: f.mirror ?? false }),
  );
  return input;
}

/** The square box a detector would give for a face with these landmarks (see LANDMARK_BOX). */
export function boxFromLandmarks(points: readonly Point[]): Box {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const [x, y] of points) {
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const extent = Math.max(maxX - minX, maxY - minY);
  const side = LANDMARK_BOX.side * extent;
  const cx = (minX + maxX) / 2 + LANDMARK_BOX.dx * extent;
  const cy = (minY + maxY) / 2 + LANDMARK_BOX.dy * extent;
  return { x: cx - side / 2, y: cy - side / 2, width: side, height: side };
}

/** face-api's 68-point landmark net. */
export class LandmarkNet {
  private readonly preprocess: Preprocess;

  constructor(private readonly model: Model) {
    this.preprocess = requirePreprocess(model);
    checkModelInput(model, LANDMARK_INPUT, LANDMARK_INPUT);
  }

  /**
   * 68 points per face, in image pixels. The box is made square around its centre (face-api
   * pads the short side the same way) and resampled to 112x112; outside the image is black.
   * `passes` > 1 reruns the net on the box implied by the previous pass's landmarks.
   */
  detect(faces: { image: RgbImage; box: Box }[], passes = 1): Point[][] {
    let boxes = faces.map((f) => squareBox(f.box));
    let points: Point[][] = [];
    for (let pass = 0; pass < passes; pass++) {
      const crops = faces.map((f, i): FaceWarp => {
        const box = boxes[i];
        return { image: f.image, toImage: { a: box.width / LANDMARK_INPUT, b: 0, tx: box.x, ty: box.y } };
      });
      const input = warpBatch(crops, LANDMARK_INPUT, LANDMARK_INPUT, this.preprocess, 'zero');
      const out = faces.length ? this.model.run(input, faces.length) : new Float32Array(0);
      points = boxes.map((box, i) => landmarksToImage(out.subarray(i * 136, (i + 1) * 136), box));
      boxes = points.map(boxFromLandmarks);
    }
    return points;
  }
}

/**
 * The landmark net's output for one face (x0, y0, ..., x67, y67 as fractions of its square
 * input) in pixels of the image the face's box was cut from, as face-api's postProcess maps it:
 * the input is the box padded to a square of side max(width, height) around its centre.
 */
export function landmarksToImage(output: ArrayLike<number>, box: Box): Point[] {
  const side = Math.max(box.width, box.height);
  const x = box.x + (box.width - side) / 2;
  const y = box.y + (box.height - side) / 2;
  return Array.from({ length: 68 }, (_, k): Point => [x + output[2 * k] * side, y + output[2 * k + 1] * side]);
}

function squareBox(box: Box): Box {
  if (![box.x, box.y, box.width, box.height].every(Number.isFinite) || box.width <= 0 || box.height <= 0) {
    throw new InputError(`invalid face box ${JSON.stringify(box)}`);
  }
  const side = Math.max(box.width, box.height);
  return { x: box.x + (box.width - side) / 2, y: box.y + (box.height - side) / 2, width: side, height: side };
}

export interface TeacherOutput {
  /** n x 256: the global average pool after the last residual block (non-negative). */
  hidden: Float32Array;
  /** n x 128: dlib's face descriptor. */
  descriptor: Float32Array;
}

/** dlib's face-recognition ResNet on dlib's 150x150 face chip (padding 0.25). */
export class TeacherNet {
  private readonly preprocess: Preprocess;

  constructor(private readonly model: Model) {
    this.preprocess = requirePreprocess(model);
    checkModelInput(model, TEACHER_CHIP_SIZE, TEACHER_CHIP_SIZE);
  }

  /** `chipToImage` per face (from dlibFaceChipTransform, possibly jittered); mirror flips the chip. */
  embedChips(faces: { image: RgbImage; chipToImage: Similarity; mirror?: boolean }[]): TeacherOutput {
    const chips = faces.map((f): FaceWarp => ({ image: f.image, toImage: f.chipToImage, mirror: f.mirror }));
    const input = warpBatch(chips, TEACHER_CHIP_SIZE, TEACHER_CHIP_SIZE, this.preprocess, 'zero');
    const [hidden, descriptor] = this.model.runAll(input, faces.length);
    return { hidden, descriptor };
  }

  embed(faces: { image: RgbImage; landmarks68: readonly Point[]; mirror?: boolean }[]): TeacherOutput {
    return this.embedChips(faces.map((f) => ({ image: f.image, chipToImage: dlibFaceChipTransform(f.landmarks68), mirror: f.mirror })));
  }
}

/** The MobileID student on its 55x47 crop. */
export class StudentNet {
  private readonly preprocess: Preprocess;

  constructor(private readonly model: Model) {
    this.preprocess = requirePreprocess(model);
    checkModelInput(model, STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH);
  }

  get dimension(): number {
    const [h, w, c] = this.model.outputShapes[0];
    return h * w * c;
  }

  /** Embeds already-cut 47x55 RGB crops (e.g. from the prepared-data cache). */
  embedCrops(crops: RgbImage[], mirror = false): Float32Array {
    return crops.length ? this.model.run(this.cropInputs(crops, mirror), crops.length) : new Float32Array(0);
  }

  /** The network input (preprocessed NHWC batch) embedCrops runs on these crops. */
  cropInputs(crops: RgbImage[], mirror = false): Float32Array {
    const faces = crops.map((image): FaceWarp => ({ image, toImage: { a: 1, b: 0, tx: 0, ty: 0 }, mirror }));
    return warpBatch(faces, STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH, this.preprocess, 'replicate');
  }

  /** Embeds faces given 5 (or 68) landmarks; mirror flips the crop left-right. */
  embed(faces: { image: RgbImage; landmarks: readonly Point[] }[], mirror = false): Float32Array {
    return this.embedWarped(faces.map((f) => ({ image: f.image, toImage: studentCropTransform(f.landmarks), mirror })));
  }

  private embedWarped(faces: FaceWarp[]): Float32Array {
    const input = warpBatch(faces, STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH, this.preprocess, 'replicate');
    return faces.length ? this.model.run(input, faces.length) : new Float32Array(0);
  }
}
