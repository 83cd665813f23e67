/**
 * Facial landmark layouts. 68 points follow the iBUG 300-W layout (dlib, face-api), 0-based:
 *   0..16 jaw (0 at the image-left ear, 8 chin)   17..21 / 22..26 eyebrows (image left / right)
 *   27..30 nose bridge (30 = tip)                 31..35 nostrils
 *   36..41 / 42..47 eyes (image left / right)     48..59 outer lip (48, 54 mouth corners)
 *   60..67 inner lip
 * "Left" and "right" always mean as seen in the image, not the subject's own left/right.
 *
 * Coordinates are pixels with the centre of pixel (i, j) at (i, j); see align.ts.
 */
import { MobileIdError } from '../errors.js';

/** A point in image coordinates: [x, y]. */
export type Point = readonly [x: number, y: number];

export const LANDMARKS_68 = {
  jaw: [0, 16],
  chin: 8,
  leftBrow: [17, 21],
  rightBrow: [22, 26],
  noseBridge: [27, 30],
  noseTip: 30,
  nostrils: [31, 35],
  leftEye: [36, 41],
  rightEye: [42, 47],
  outerLip: [48, 59],
  innerLip: [60, 67],
  mouthLeft: 48,
  mouthRight: 54,
} as const;

/** Indices of the 5-point layout landmarks68To5 produces. */
export const LANDMARKS_5 = { leftEye: 0, rightEye: 1, noseTip: 2, mouthLeft: 3, mouthRight: 4 } as const;

/** The 5 points by name (eye centres, nose tip, mouth corners; left/right as seen in the image). */
export interface NamedLandmarks {
  leftEye: Point;
  rightEye: Point;
  nose: Point;
  mouthLeft: Point;
  mouthRight: Point;
}

/** The 68-point regions, each an inclusive [first, last] index range of landmarks68. */
export const LANDMARK_REGIONS = {
  jaw: LANDMARKS_68.jaw,
  leftBrow: LANDMARKS_68.leftBrow,
  rightBrow: LANDMARKS_68.rightBrow,
  noseBridge: LANDMARKS_68.noseBridge,
  nostrils: LANDMARKS_68.nostrils,
  leftEye: LANDMARKS_68.leftEye,
  rightEye: LANDMARKS_68.rightEye,
  outerLip: LANDMARKS_68.outerLip,
  innerLip: LANDMARKS_68.innerLip,
} as const;

export type LandmarkRegions = Record<keyof typeof LANDMARK_REGIONS, Point[]>;

/** landmarks68To5's points by name. */
export function namedLandmarks(points5: readonly Point[]): NamedLandmarks {
  const L = LANDMARKS_5;
  return { leftEye: points5[L.leftEye], rightEye: points5[L.rightEye], nose: points5[L.noseTip], mouthLeft: points5[L.mouthLeft], mouthRight: points5[L.mouthRight] };
}

/** The 68 points split by region (LANDMARK_REGIONS); every point is in exactly one region. */
export function landmarkRegions(points68: readonly Point[]): LandmarkRegions {
  assertLandmarks(points68, 68);
  const regions = {} as LandmarkRegions;
  for (const [name, [first, last]] of Object.entries(LANDMARK_REGIONS) as [keyof LandmarkRegions, readonly [number, number]][]) {
    regions[name] = points68.slice(first, last + 1);
  }
  return regions;
}

/**
 * Points that cannot define an alignment: the wrong number of them, NaN/Infinity, or a
 * degenerate configuration (all equal). Thrown here and by align.ts.
 */
export class AlignmentError extends MobileIdError {
  override name = 'AlignmentError';
}

/** Throws AlignmentError unless points holds `count` finite [x, y] pairs. */
export function assertLandmarks(points: readonly Point[], count: number): void {
  if (!Array.isArray(points) || points.length !== count) {
    throw new AlignmentError(`expected ${count} landmarks, got ${Array.isArray(points) ? points.length : typeof points}`);
  }
  for (let i = 0; i < count; i++) {
    const p = points[i];
    if (!p || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) {
      throw new AlignmentError(`landmark ${i} is not a finite [x, y] point: ${JSON.stringify(p)}`);
    }
  }
}

function mean(points: readonly Point[], [first, last]: readonly [number, number]): Point {
  let x = 0;
  let y = 0;
  for (let i = first; i <= last; i++) {
    x += points[i][0];
    y += points[i][1];
  }
  const n = last - first + 1;
  return [x / n, y / n];
}

/**
 * Reduces 68 iBUG landmarks to the 5 of CelebA/MTCNN: [left eye centre (mean of 36..41),
 * right eye centre (mean of 42..47), nose tip (30), left mouth corner (48), right mouth
 * corner (54)], left/right as seen in the image.
 */
export function landmarks68To5(points: readonly Point[]): Point[] {
  assertLandmarks(points, 68);
  const L = LANDMARKS_68;
  return [
    mean(points, L.leftEye),
    mean(points, L.rightEye),
    [points[L.noseTip][0], points[L.noseTip][1]],
    [points[L.mouthLeft][0], points[L.mouthLeft][1]],
    [points[L.mouthRight][0], points[L.mouthRight][1]],
  ];
}
