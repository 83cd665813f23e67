/**
 * Preparing one face image for training or evaluation: landmarks from a fixed central box
 * (the data sets are centred face crops) refined by further passes on the box the previous
 * pass implies, then per view the student's 55x47 crop and the teacher's outputs on the
 * matching 150x150 dlib chip. Jittered views move both crops by the same random similarity of
 * the image, so the teacher's target describes exactly what the student sees. A jittered view
 * may also be a mixup (Zhang et al., ICLR 2018) of the face with another one aligned onto it,
 * the teacher run on the mixed pixels: Beyer et al. (CVPR 2022) found that distillation gains
 * most when the teacher labels such in-between images ("function matching").
 */
import {
  composeSimilarity,
  dlibFaceChipTransform,
  invertSimilarity,
  studentCropTransform,
  STUDENT_WINDOW_SCALE,
  warpSimilarity,
  type Similarity,
} from '../../face/align.js';
import type { Point } from '../../face/landmarks.js';
import type { Box, LandmarkNet, TeacherNet } from '../../face/networks.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from '../../face/student-graph.js';
import type { RgbImage } from '../../image.js';
import { seededRandom } from '../../math/random.js';
import type { PreparedRecord } from './cache.js';

export interface DatasetProfile {
  /** Central starting box as a fraction of the image side, and its vertical offset (fraction). */
  boxFraction: number;
  boxOffsetY: number;
  /** Landmark passes: 1 = the central box only. */
  passes: number;
  /** Views per image: 0 plain, 1 mirrored, >= 2 jittered (randomly mirrored). */
  views: number;
  /** Probability that a jittered view is a mixup with the partner face (see prepare()); absent: 0. */
  mixup?: number;
}

/**
 * LFW's 192x192 crops show the whole head with background; UTKFace's 200x200 chips are filled
 * by the face; FairFace's 224x224 images are dlib chips with padding 0.25; CelebA's aligned
 * 178x218 canvases put the eyes at 51% of the height. The LFW and UTKFace box fractions were
 * chosen by looking at landmark fits; FairFace's and CelebA's are where the box implied by the
 * third pass settles (median over 40 images of each), so the first pass already starts there.
 * Every set gets the same 3 landmark passes (on UTKFace images the points still moved by several
 * pixels between passes 2 and 3), so training and test faces are aligned alike.
 * Training sets get 2 plain views (0 and its mirror) and a degraded, jittered one (the view
 * bank, see `degradeImage`); LFW only the plain view and its mirror.
 */
export const PROFILES = {
  lfw: { boxFraction: 0.6, boxOffsetY: 0.03, passes: 3, views: 2 },
  utkface: { boxFraction: 0.95, boxOffsetY: 0, passes: 3, views: 3 },
  fairface: { boxFraction: 0.86, boxOffsetY: -0.08, passes: 3, views: 3 },
  celeba: { boxFraction: 0.56, boxOffsetY: 0.08, passes: 3, views: 3 },
} satisfies Record<string, DatasetProfile>;

export type DatasetName = keyof typeof PROFILES;

/**
 * Degradations of a jittered view, applied to the source image so that the teacher chip and the
 * student crop are cut from the very same pixels (Beyer et al., CVPR 2022: a consistent teacher).
 * Probabilities per view; sizes relative to the eye distance.
 */
export const DEGRADATION = {
  /** Per-channel gain, contrast about the mean and brightness (0..255 units), uniform in +-. */
  color: 0.08,
  contrast: 0.25,
  brightness: 25,
  /** Down-then-up scaling to a fraction in [minScale, maxScale] of the size (a low-resolution camera). */
  rescale: { probability: 0.3, minScale: 0.3, maxScale: 0.7 },
  /** One rectangle filled with a random grey (random erasing, Zhong et al. AAAI 2020). */
  erase: { probability: 0.25, minSide: 0.4, maxSide: 1.0 },
} as const;

/** Largest jitter: shift as a fraction of the eye distance, relative scale, rotation (radians). */
export const JITTER = { shift: 0.08, scale: 0.06, rotation: (6 * Math.PI) / 180 } as const;

/** Weight of the partner face in a mixup view: uniform in [0, MIXUP_MAX_PARTNER_WEIGHT], so the view's own face dominates. */
export const MIXUP_MAX_PARTNER_WEIGHT = 0.5;

/** An image and its 68 landmarks: what a mixup view needs of its partner face. */
export interface LandmarkedImage {
  image: RgbImage;
  landmarks: Point[];
}

export interface PreparedImage extends LandmarkedImage {
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

/** Draws uniformly in [-limit, limit] from `random`. */
const uniformIn = (random: () => number) => (limit: number) => (random() * 2 - 1) * limit;

/** A similarity of the image about `centre`: rotation, scaling and a shift of `unit`-relative size. */
function randomPerturbation(random: () => number, centre: Point, unit: number): Similarity {
  const uniform = uniformIn(random);
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
    /** The student window the crops are cut with (src/face/align.ts). */
    readonly windowScale: number = STUDENT_WINDOW_SCALE,
  ) {}

  /**
   * `seed` makes the jittered views reproducible per image. With `partner` (another face, e.g. the
   * previous image of the chunk) and profile.mixup > 0, each jittered view is with that
   * probability cut from the mixup of this face and the partner's aligned onto it.
   * Views below `fromView` are drawn but neither cut nor labelled, so the views returned (from
   * `fromView` on) are exactly those a run from view 0 makes: how a bank is extended.
   */
  prepare(image: RgbImage, profile: DatasetProfile, seed: number, partner?: LandmarkedImage, fromView = 0): PreparedImage {
    const [points] = this.landmarks.detect([{ image, box: centralBox(image, profile) }], profile.passes);
    const cropToImage = studentCropTransform(points, this.windowScale);
    const chipToImage = dlibFaceChipTransform(points);
    const random = seededRandom(seed);
    const leftEye = averagePoint(points.slice(36, 42));
    const rightEye = averagePoint(points.slice(42, 48));
    const eyeDistance = Math.hypot(rightEye[0] - leftEye[0], rightEye[1] - leftEye[1]);
    const centre = averagePoint(points);
    const plans = Array.from({ length: profile.views }, (_, v) => {
      if (v < 2) return { source: image, crop: cropToImage, chip: chipToImage, mirror: v === 1 };
      const p = randomPerturbation(random, centre, eyeDistance);
      const mixed = partner && (profile.mixup ?? 0) > 0 && random() < profile.mixup!
        ? mixFaces(image, chipToImage, partner, random() * MIXUP_MAX_PARTNER_WEIGHT)
        : image;
      const source = degradeImage(mixed, random, centre, eyeDistance);
      return { source, crop: composeSimilarity(p, cropToImage), chip: composeSimilarity(p, chipToImage), mirror: random() < 0.5 };
    });
    const kept = plans.slice(fromView);
    const teacher = this.teacher.embedChips(kept.map((plan) => ({ image: plan.source, chipToImage: plan.chip, mirror: plan.mirror })));
    const views = kept.map((plan, v) => ({
      crop: warpSimilarity(plan.source, plan.crop, STUDENT_CROP_WIDTH, STUDENT_CROP_HEIGHT, { border: 'replicate', mirror: plan.mirror }).data,
      hidden: teacher.hidden.slice(v * 256, (v + 1) * 256),
      descriptor: teacher.descriptor.slice(v * 128, (v + 1) * 128),
    }));
    return { image, landmarks: points, views };
  }
}

/**
 * (1 - weight) * image + weight * the partner's face moved onto this one's: the partner warped by
 * the similarity taking this face's dlib chip frame to the partner's, so eyes, nose and mouth meet.
 */
export function mixFaces(image: RgbImage, chipToImage: Similarity, partner: LandmarkedImage, weight: number): RgbImage {
  const imageToPartner = composeSimilarity(dlibFaceChipTransform(partner.landmarks), invertSimilarity(chipToImage));
  const moved = warpSimilarity(partner.image, imageToPartner, image.width, image.height, { border: 'replicate' }).data;
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.round((1 - weight) * image.data[i] + weight * moved[i]);
  return { width: image.width, height: image.height, data };
}

/** A degraded copy of `image` (see DEGRADATION): colour, then maybe rescaling, then maybe one erased rectangle. */
export function degradeImage(image: RgbImage, random: () => number, centre: Point, eyeDistance: number): RgbImage {
  const uniform = uniformIn(random);
  const d = DEGRADATION;
  const gain = [1 + uniform(d.color), 1 + uniform(d.color), 1 + uniform(d.color)];
  const contrast = 1 + uniform(d.contrast);
  const brightness = uniform(d.brightness);
  const { width, height } = image;
  const src = image.data;
  let sum = 0;
  for (let i = 0; i < src.length; i++) sum += src[i];
  const m = sum / src.length;
  const data = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = ((src[i] - m) * contrast + m) * gain[i % 3] + brightness;
    data[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
  let out: RgbImage = { width, height, data };
  if (random() < d.rescale.probability) {
    const f = d.rescale.minScale + random() * (d.rescale.maxScale - d.rescale.minScale);
    const w = Math.max(8, Math.round(width * f));
    const h = Math.max(8, Math.round(height * f));
    // pixel centres map to pixel centres: x_in = (x_out + 0.5) * a - 0.5
    const resize = (a: number) => ({ a, b: 0, tx: (a - 1) / 2, ty: (a - 1) / 2 });
    const small = warpSimilarity(out, resize(width / w), w, h, { border: 'replicate' });
    out = warpSimilarity(small, resize(w / width), width, height, { border: 'replicate' });
  }
  if (random() < d.erase.probability) {
    const side = () => eyeDistance * (d.erase.minSide + random() * (d.erase.maxSide - d.erase.minSide));
    const w = side();
    const h = side();
    const x0 = Math.round(centre[0] + uniform(eyeDistance) - w / 2);
    const y0 = Math.round(centre[1] + uniform(eyeDistance) - h / 2);
    const grey = Math.floor(random() * 256);
    for (let y = Math.max(0, y0); y < Math.min(height, y0 + h); y++) {
      for (let x = Math.max(0, x0); x < Math.min(width, x0 + w); x++) out.data.fill(grey, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return out;
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
