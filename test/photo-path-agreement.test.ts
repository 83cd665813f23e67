// comparePaths (src/tools/photo-path-agreement.ts): per-photo agreement of the two paths'
// embeddings and the pairs only the photo path gets wrong, on synthetic embeddings.
import { describe, expect, it } from 'vitest';
import { comparePaths } from '../src/tools/photo-path-agreement.js';
import { seededRandom } from '../src/math/random.js';

const random = seededRandom(11);
const unit = (v: Float32Array) => { const n = Math.hypot(...v); return v.map((x) => x / n); };
const noisy = (v: Float32Array, amount: number) => unit(v.map((x) => x + amount * (random() * 2 - 1)));

describe('comparePaths', () => {
  // 20 people, 2 photos each, 8-d embeddings; 2 folds of 10 same + 10 different pairs
  const people = Array.from({ length: 20 }, () => unit(Float32Array.from({ length: 8 }, () => random() * 2 - 1)));
  const prepared = people.flatMap((p) => [noisy(p, 0.05), noisy(p, 0.05)]);
  const pairs: { same: boolean; fold: number }[] = [];
  const photoOf: [number, number][] = [];
  for (let fold = 0; fold < 2; fold++) {
    for (let i = 0; i < 10; i++) {
      const p = fold * 10 + i;
      pairs.push({ same: true, fold });
      photoOf.push([2 * p, 2 * p + 1]);
    }
    for (let i = 0; i < 10; i++) {
      const p = fold * 10 + i;
      const q = fold * 10 + ((i + 1) % 10);
      pairs.push({ same: false, fold });
      photoOf.push([2 * p, 2 * q + 1]);
    }
  }

  it('agrees fully and loses nothing when the photo path gives the prepared embeddings', () => {
    const report = comparePaths(pairs, photoOf, 2, { photo: prepared, prepared });
    expect(report.agreement.min).toBeCloseTo(1, 6);
    expect(report.agreement.below095).toBe(0);
    expect(report.photoPath.accuracyMean).toBe(report.preparedCrops.accuracyMean);
    expect(report.wrongOnlyInPhotoPath).toBe(0);
  });

  it('finds the photos embedded on another face and the pairs they break; a missing face fails its pairs', () => {
    const photo: (Float32Array | null)[] = prepared.slice();
    photo[1] = people[7]; // person 0's second photo: another face
    photo[2] = null; // person 1's first photo: no face
    const report = comparePaths(pairs, photoOf, 2, { photo, prepared }, 3);
    expect(report.noFace).toBe(1);
    expect(report.agreement.below095).toBe(1);
    expect(report.worst[0].photo).toBe(1);
    expect(report.photoPath.wrong).toBeGreaterThan(report.preparedCrops.wrong);
    // the pairs of the two broken photos (a changed fold also moves the other fold's threshold,
    // which may flip a close pair elsewhere)
    expect(report.wrongOnlyWithDisagreeingPhoto).toBeGreaterThanOrEqual(2);
    expect(report.wrongOnlyWithDisagreeingPhoto).toBeLessThanOrEqual(report.wrongOnlyInPhotoPath);
  });
});
