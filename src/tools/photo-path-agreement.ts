/**
 * Where the photo path (eval-pairs: detector, landmarks, alignment, embedding) loses accuracy
 * against the prepared crops (eval-lfw: a fixed central box, three landmark passes): per photo,
 * how alike its two embeddings are, and which pairs only the photo path gets wrong. A photo whose
 * two embeddings differ was aligned differently (or on another face); if the photo-path-only
 * errors gather on such photos, the loss is in finding and aligning the face, not in the network.
 */
import { crossValidate, type LabelledPair } from '../verify/pairs.js';
import { createVerifier } from '../verify/verifier.js';

export interface PhotoEmbeddings {
  /** Photo-path embedding per photo; null: no face found (its pairs fail). */
  photo: (Float32Array | null)[];
  /** Prepared-crop embedding per photo (same order). */
  prepared: Float32Array[];
}

export interface AgreementReport {
  photos: number;
  noFace: number;
  /** Cosine between each photo's two embeddings: quantiles and counts below 0.95 and 0.9. */
  agreement: { min: number; p1: number; p5: number; median: number; below095: number; below090: number };
  photoPath: { accuracyMean: number; wrong: number };
  preparedCrops: { accuracyMean: number; wrong: number };
  /** Pairs wrong through the photo path but right on the prepared crops... */
  wrongOnlyInPhotoPath: number;
  /** ...and of them, those with a photo below 0.95 agreement or without a face. */
  wrongOnlyWithDisagreeingPhoto: number;
  /** The photos of lowest agreement, lowest first. */
  worst: { photo: number; agreement: number }[];
}

const cosine = createVerifier('cosine');

const quantile = (sorted: number[], q: number) => sorted[Math.floor(q * (sorted.length - 1))] ?? NaN;

/**
 * Compares the two paths on a pair list whose photos are indices into `embeddings`; scores are
 * cosine similarities, thresholds chosen on the other folds (crossValidate).
 */
export function comparePaths(
  pairs: readonly Pick<LabelledPair, 'same' | 'fold'>[], photoOf: readonly [number, number][], folds: number,
  embeddings: PhotoEmbeddings, worst = 30,
): AgreementReport {
  const { photo, prepared } = embeddings;
  const agreement = photo.map((e, i) => (e ? cosine.score(e, prepared[i]) : NaN));
  const found = agreement.filter((a) => !Number.isNaN(a)).sort((a, b) => a - b);
  const score = (get: (i: number) => Float32Array | null) =>
    photoOf.map(([a, b]) => {
      const ea = get(a);
      const eb = get(b);
      return ea && eb ? cosine.score(ea, eb) : NaN;
    });
  const same = pairs.map((p) => p.same);
  const fold = pairs.map((p) => p.fold);
  const outcome = (scores: number[]) => {
    const cv = crossValidate(scores, same, fold, folds);
    const right = scores.map((s, i) => !Number.isNaN(s) && s > cv.folds[fold[i]].threshold === same[i]);
    return { accuracyMean: cv.accuracyMean, right };
  };
  const viaPhoto = outcome(score((i) => photo[i]));
  const viaCrops = outcome(score((i) => prepared[i]));
  const onlyPhoto = pairs.map((_, i) => i).filter((i) => !viaPhoto.right[i] && viaCrops.right[i]);
  const disagrees = (i: number) => !(agreement[i] >= 0.95);
  return {
    photos: photo.length,
    noFace: photo.filter((e) => !e).length,
    agreement: {
      min: quantile(found, 0), p1: quantile(found, 0.01), p5: quantile(found, 0.05), median: quantile(found, 0.5),
      below095: found.filter((a) => a < 0.95).length, below090: found.filter((a) => a < 0.9).length,
    },
    photoPath: { accuracyMean: viaPhoto.accuracyMean, wrong: viaPhoto.right.filter((r) => !r).length },
    preparedCrops: { accuracyMean: viaCrops.accuracyMean, wrong: viaCrops.right.filter((r) => !r).length },
    wrongOnlyInPhotoPath: onlyPhoto.length,
    wrongOnlyWithDisagreeingPhoto: onlyPhoto.filter((i) => disagrees(photoOf[i][0]) || disagrees(photoOf[i][1])).length,
    worst: agreement
      .map((a, i) => ({ photo: i, agreement: a }))
      .filter((w) => !Number.isNaN(w.agreement))
      .sort((x, y) => x.agreement - y.agreement)
      .slice(0, worst),
  };
}
