/**
 * Preparing one face image for training or evaluation: landmarks from a fixed central box
 * (the data sets are centred face crops) refined by further passes on the box the previous
 * pass implies, then per view the student's 55x47 crop and the teacher's outputs on the
 * matching 150x150 dlib chip. Jittered views move both crops by the same random similarity of
 * the image, so the teacher's target describes exactly what the student sees.
 */
import {
  STUDENT_CROP_HEIGHT,
  STUDENT_CROP_WIDTH,
  composeSimilarity,
  dlibFaceChipTransform,
  studentCropTransform,
  warpSimilarity,
  type Similarity,
} from './align.js';
import type { Box, LandmarkNet, TeacherNet } from './faces.js';
import type { RgbImage } from './image.js';
import type { Point } from './landmarks.js';
import { seededRandom } from './random.js';
import type { PreparedRecord } from './prepared.js';

export interface DatasetProfile {
  /** Central starting box as a fraction of the image side, and its vertical offset (fraction). */
  boxFraction: number;
  boxOffsetY: number;
  /** Landmark passes: 1 = the central box only. */
  passes: number;
  /** Views per image: 0 plain, 1 mirrored, >= 2 jittered (randomly mirrored). */
  views: number;
}

/**
 * LFW's 192x192 crops show the whole head with background; UTKFace's 200x200 chips are filled
 * by the face. The box fractions were chosen by looking at landmark fits on a few images of
 * each set. Both sets get the same 3 landmark passes (on UTKFace images the points still moved
 * by several pixels between passes 2 and 3), so training and test faces are aligned alike.
 */
export const PROFILES = {
  lfw: { boxFraction: 0.6, boxOffsetY: 0.03, passes: 3, views: 2 },
  utkface: { boxFraction: 0.95, boxOffsetY: 0, passes: 3, views: 3 },
} satisfies Record<string, DatasetProfile>;

/** Largest jitter: shift as a fraction of the eye distance, relative scale, rotation (radians). */
export const JITTER = { shift: 0.08, scale: 0.06, rotation: (6 * Math.PI) / 180 } as const;

export interface PreparedImage {
  landmarks: Point[];
  views: PreparedRecord[];
}

export function centralBox(image: RgbImage, profile: DatasetProfile): Box {
  const side = Math.min(image.width, image.height) * profile.boxFraction;
  return {
    x: (image.width - side) / 2,
    y: (image.height - side) / 2 + image.height * profile.boxOffsetY,
    width: side,
    height: side,
  };
}

/** A similarity of the image about `centre`: rotation, scaling and a shift of `unit`-relative size. */
function randomPerturbation(random: () => number, centre: Point, unit: number): Similarity {
  const uniform = (limit: number) => (random() * 2 - 1) * limit;
  const angle = uniform(JITTER.rotation);
  const scale = 1 + uniform(JITTER.scale);
  const a = scale * Math.cos(angle);
  const b = scale * Math.sin(angle);
  const [cx, cy] = centre;
  const sx = uniform(JITTER.shift) * unit;
  const sy = uniform(JITTER.shift) * unit;
  // p -> R (p - c) + c + shift
  return { a, b, tx: cx - (a * cx - b * cy) + sx, ty: cy - (b * cx + a * cy) + sy };
}

export class FacePreparer {
  constructor(
    private readonly landmarks: LandmarkNet,
    private readonly teacher: TeacherNet,
  ) {}

  /** `seed` makes the jittered views reproducible per image. */
  prepare(image: RgbImage, profile: DatasetProfile, seed: number): PreparedImage {
    const [points] = this.landmarks.detect([{ image, box: centralBox(image, profile) }], profile.passes);
    const cropToImage = studentCropTransform(points);
    const chipToImage = dlibFaceChipTransform(points);
    const random = seededRandom(seed);
    const leftEye = averagePoint(points.slice(36, 42));
    const rightEye = averagePoint(points.slice(42, 48));
    const eyeDistance = Math.hypot(rightEye[0] - leftEye[0], rightEye[1] - leftEye[1]);
    const centre = averagePoint(points);
    const plans = Array.from({ length: profile.views }, (_, v) => {
      if (v < 2) return { crop: cropToImage, chip: chipToImage, mirror: v === 1 };
      const p = randomPerturbation(random, centre, eyeDistance);
      return { crop: composeSimilarity(p, cropToImage), chip: composeSimilarity(p, chipToImage), mirror: random() < 0.5 };
    });
    const teacher = this.teacher.embedChips(plans.map((plan) => ({ image, chipToImage: plan.chip, mirror: plan.mirror })));
    const views = plans.map((plan, v) => ({
      crop: warpSimilarity(image, plan.crop, STUDENT_CROP_WIDTH, STUDENT_CROP_HEIGHT, { border: 'replicate', mirror: plan.mirror }).data,
      hidden: teacher.hidden.slice(v * 256, (v + 1) * 256),
      descriptor: teacher.descriptor.slice(v * 128, (v + 1) * 128),
    }));
    return { landmarks: points, views };
  }
}

function averagePoint(points: readonly Point[]): Point {
  let x = 0;
  let y = 0;
  for (const p of points) {
    x += p[0];
    y += p[1];
  }
  return [x / points.length, y / points.length];
}
