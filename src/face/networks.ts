/**
 * The face networks on top of the engine: 68 landmarks from a face box, the teacher's chip
 * embedding (256-d hidden layer + 128-d descriptor) and the student's embedding. Each takes
 * images plus geometry and does its own cropping, so callers never touch tensors.
 */
import type { Preprocess } from '../engine/graph.js';
import type { Model } from '../engine/model.js';
import { InputError, ModelFormatError } from '../errors.js';
import type { RgbImage } from '../image.js';
import {
  TEACHER_CHIP_SIZE,
  applySimilarity,
  composeSimilarity,
  dlibFaceChipTransform,
  studentCropTransform,
  warpSimilarityToTensor,
  type BorderMode,
  type Similarity,
} from './align.js';
import { landmarks68To5, type Point } from './landmarks.js';
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

/**
 * The angle of the eye line (radians, from +x towards +y as in align.ts's Similarity): from the
 * image-left eye's centre (points 36..41) to the image-right eye's (42..47); 0 for an upright face.
 */
export function eyeLineAngle(points: readonly Point[]): number {
  const [[lx, ly], [rx, ry]] = landmarks68To5(points);
  return Math.atan2(ry - ly, rx - lx);
}

const rotation = (angle: number): Similarity => ({ a: Math.cos(angle), b: Math.sin(angle), tx: 0, ty: 0 });

/** The landmark net's crop of a box: its 112x112 input pixels mapped to image pixels (the box padded to a square). */
function cropOfBox(box: Box): Similarity {
  const square = squareBox(box);
  return { a: square.width / LANDMARK_INPUT, b: 0, tx: square.x, ty: square.y };
}

/**
 * The crop the next landmark pass reads for a face with these landmarks: boxFromLandmarks's box,
 * taken in the frame where the eye line is horizontal when `upright` (the crop is then rotated so
 * the face in it stands upright, as the net was trained), else in the image's own axes.
 */
function cropFromLandmarks(points: readonly Point[], upright: boolean): Similarity {
  const angle = upright ? eyeLineAngle(points) : 0;
  const toUpright = rotation(-angle);
  const box = boxFromLandmarks(points.map((p) => applySimilarity(toUpright, p)));
  return composeSimilarity(rotation(angle), { a: box.width / LANDMARK_INPUT, b: 0, tx: box.x, ty: box.y });
}

/** The landmark net's output for one face (x0, y0, ..., x67, y67 as fractions of its input) through its crop, in image pixels. */
function landmarksThroughCrop(output: ArrayLike<number>, crop: Similarity): Point[] {
  return Array.from({ length: 68 }, (_, k) => applySimilarity(crop, [output[2 * k] * LANDMARK_INPUT, output[2 * k + 1] * LANDMARK_INPUT]));
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
   * `passes` > 1 reruns the net on the box implied by the previous pass's landmarks; with
   * `upright`, that box is turned with the previous pass's eye line, so a tilted face is seen
   * upright, and the points are mapped back to the image.
   */
  detect(faces: { image: RgbImage; box: Box }[], passes = 1, { upright = false } = {}): Point[][] {
    let crops = faces.map((f) => cropOfBox(f.box));
    let points: Point[][] = [];
    for (let pass = 0; pass < passes; pass++) {
      const warps = faces.map((f, i): FaceWarp => ({ image: f.image, toImage: crops[i] }));
      const input = warpBatch(warps, LANDMARK_INPUT, LANDMARK_INPUT, this.preprocess, 'zero');
      const out = faces.length ? this.model.run(input, faces.length) : new Float32Array(0);
      points = crops.map((crop, i) => landmarksThroughCrop(out.subarray(i * 136, (i + 1) * 136), crop));
      crops = points.map((p) => cropFromLandmarks(p, upright));
    }
    return points;
  }

  /**
   * The landmarks of one face from whichever of its candidate boxes (the detector's boxes of it at
   * several input sizes) they fit best. A poor box (too large, off-centre) can leave the net's
   * points collapsed into a clump or strewn over the background; such points do not settle. So
   * each box gets `passes` passes and one more, and the points that move least in that extra pass
   * (relative to the eye-corner distance) are kept; a clump far smaller than its box is never
   * taken over points that look like a face. The first box is tried alone first and kept when its
   * points have settled (SETTLED_UNREST), the usual case, which spares the other boxes' passes.
   * Returns the points after `passes` passes and the index of the box they came from.
   */
  fitBest(image: RgbImage, boxes: readonly Box[], passes: number, options: { upright?: boolean } = {}): { points: Point[]; index: number } {
    if (boxes.length === 0) throw new InputError('fitBest needs at least one candidate box');
    const fits = (from: readonly Box[]) => {
      const settled = this.detect(from.map((box) => ({ image, box })), passes, options);
      const next = this.detect(settled.map((points) => ({ image, box: boxFromLandmarks(points) })), 1);
      return settled.map((points, i) => ({ points, cost: fitCost(points, next[i], from[i]) }));
    };
    const [first] = fits(boxes.slice(0, 1));
    if (first.cost < SETTLED_UNREST || boxes.length === 1) return { points: first.points, index: 0 };
    let best = { ...first, index: 0 };
    fits(boxes.slice(1)).forEach((fit, i) => {
      if (fit.cost < best.cost) best = { ...fit, index: i + 1 };
    });
    return { points: best.points, index: best.index };
  }
}

/**
 * Points that move less than this (mean, in eye-corner distances) in a further pass have settled:
 * points on a good box barely move in another pass, while points left in a clump or strewn over
 * the background by a poor box move by a large part of the eye distance.
 */
export const SETTLED_UNREST = 0.05;

/** How badly a box's landmarks fit: their unrest, plus 1 when they collapsed into a clump. */
function fitCost(points: readonly Point[], next: readonly Point[], box: Box): number {
  return landmarkUnrest(points, next) + (eyeCornerDistance(points) < COLLAPSED_EYE_FRACTION * Math.max(box.width, box.height) ? 1 : 0);
}

/**
 * Outer eye corners closer than this share of the box side: the points have collapsed into a clump
 * (a real face's corners are about a third of its detector box apart).
 */
const COLLAPSED_EYE_FRACTION = 0.15;

/** Distance between the outer eye corners (points 36 and 45). */
function eyeCornerDistance(points: readonly Point[]): number {
  return Math.hypot(points[45][0] - points[36][0], points[45][1] - points[36][1]);
}

/** Mean movement of the 68 points between two passes, in eye-corner distances of the first. */
function landmarkUnrest(before: readonly Point[], after: readonly Point[]): number {
  let sum = 0;
  for (let k = 0; k < 68; k++) sum += Math.hypot(after[k][0] - before[k][0], after[k][1] - before[k][1]);
  return sum / 68 / Math.max(eyeCornerDistance(before), 1e-6);
}

/**
 * The landmark net's output for one face (x0, y0, ..., x67, y67 as fractions of its square
 * input) in pixels of the image the face's box was cut from, as face-api's postProcess maps it:
 * the input is the box padded to a square of side max(width, height) around its centre.
 */
export function landmarksToImage(output: ArrayLike<number>, box: Box): Point[] {
  return landmarksThroughCrop(output, cropOfBox(box));
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
    if (faces.length === 0) return { hidden: new Float32Array(0), descriptor: new Float32Array(0) };
    const chips = faces.map((f): FaceWarp => ({ image: f.image, toImage: f.chipToImage, mirror: f.mirror }));
    const input = warpBatch(chips, TEACHER_CHIP_SIZE, TEACHER_CHIP_SIZE, this.preprocess, 'zero');
    const [hidden, descriptor] = this.model.runAll(input, faces.length);
    return { hidden, descriptor };
  }

  embed(faces: { image: RgbImage; landmarks68: readonly Point[]; mirror?: boolean }[]): TeacherOutput {
    return this.embedChips(faces.map((f) => ({ image: f.image, chipToImage: dlibFaceChipTransform(f.landmarks68), mirror: f.mirror })));
  }
}

/**
 * The window a student model was trained on (meta.distilled.windowScale, see STUDENT_WINDOW_SCALE);
 * files without it were all cut at 1.
 */
export function studentWindowScale(meta: Record<string, unknown> | undefined): number {
  const value = (meta?.distilled as { windowScale?: unknown } | undefined)?.windowScale;
  if (value === undefined) return 1;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ModelFormatError(`student model meta.distilled.windowScale must be a finite number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The MobileID student on its 55x47 crop, cut at the window the model was trained on. */
export class StudentNet {
  private readonly preprocess: Preprocess;
  readonly windowScale: number;

  constructor(private readonly model: Model) {
    this.preprocess = requirePreprocess(model);
    checkModelInput(model, STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH);
    this.windowScale = studentWindowScale(model.graph.meta);
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
    return this.embedWarped(faces.map((f) => ({ image: f.image, toImage: studentCropTransform(f.landmarks, this.windowScale), mirror })));
  }

  private embedWarped(faces: FaceWarp[]): Float32Array {
    const input = warpBatch(faces, STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH, this.preprocess, 'replicate');
    return faces.length ? this.model.run(input, faces.length) : new Float32Array(0);
  }
}
