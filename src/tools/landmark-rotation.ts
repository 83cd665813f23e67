/**
 * What `npm run landmark-rotation` measures: photos rotated about their centre, the landmarks
 * found in the rotated photo mapped back to the upright one, and their error against the
 * upright photo's landmarks as a fraction of the eye distance.
 */
import { applySimilarity, invertSimilarity, warpSimilarity, type Similarity } from '../face/align.js';
import { landmarks68To5, type Point } from '../face/landmarks.js';
import type { RgbImage } from '../image.js';

export interface RotatedPhoto {
  image: RgbImage;
  /** Maps a point of the rotated photo to the same point of the original. */
  toOriginal: Similarity;
}

/**
 * The photo turned by `degrees` about its centre (positive: from +x towards +y, clockwise on
 * screen), same size; corners that come from outside the photo are black.
 */
export function rotatePhoto(image: RgbImage, degrees: number): RotatedPhoto {
  const angle = (degrees * Math.PI) / 180;
  const cx = (image.width - 1) / 2;
  const cy = (image.height - 1) / 2;
  const a = Math.cos(angle), b = Math.sin(angle);
  // original -> rotated: p' = R(angle) (p - c) + c
  const toRotated: Similarity = { a, b, tx: cx - (a * cx - b * cy), ty: cy - (b * cx + a * cy) };
  const toOriginal = invertSimilarity(toRotated);
  return { image: warpSimilarity(image, toOriginal, image.width, image.height, { border: 'zero' }), toOriginal };
}

function eyeDistance(points: readonly Point[]): number {
  const [[lx, ly], [rx, ry]] = landmarks68To5(points);
  return Math.hypot(rx - lx, ry - ly);
}

/** Mean distance between corresponding points, divided by the reference's eye-centre distance. */
export function normalisedPointError(points: readonly Point[], reference: readonly Point[]): number {
  if (points.length !== reference.length) throw new Error(`${points.length} points against ${reference.length}`);
  let sum = 0;
  for (let i = 0; i < points.length; i++) sum += Math.hypot(points[i][0] - reference[i][0], points[i][1] - reference[i][1]);
  return sum / points.length / eyeDistance(reference);
}

/** Landmarks found in a rotated photo, in the original photo's pixels. */
export function toOriginalPoints(points: readonly Point[], rotated: RotatedPhoto): Point[] {
  return points.map((p) => applySimilarity(rotated.toOriginal, p));
}
