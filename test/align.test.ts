import { describe, expect, it } from 'vitest';
import type { Preprocess } from '../src/engine/graph.js';
import {
  AlignmentError,
  alignForStudent,
  alignForTeacher,
  applySimilarity,
  composeSimilarity,
  DLIB_CHIP_FIT_LANDMARKS,
  dlibFaceChipTransform,
  dlibTemplatePoint,
  fitSimilarity,
  invertSimilarity,
  similarityAngle,
  similarityScale,
  STUDENT_TEMPLATE,
  studentCropTransform,
  studentTemplate,
  STUDENT_WINDOW_SCALE,
  TEACHER_CHIP_SIZE,
  teacherChipInStudentCrop,
  warpSimilarity,
  warpSimilarityToTensor,
  type BorderMode,
  type Point,
  type Similarity,
} from '../src/face/align.js';
import { landmarks68To5 } from '../src/face/landmarks.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from '../src/face/student-graph.js';
import { ImageShapeError, mirrorImage, type RgbImage } from '../src/image.js';
import { seededRandom } from '../src/math/random.js';

function similarity(scale: number, degrees: number, tx: number, ty: number): Similarity {
  const r = (degrees * Math.PI) / 180;
  return { a: scale * Math.cos(r), b: scale * Math.sin(r), tx, ty };
}

const dist = (p: Point, q: Point) => Math.hypot(p[0] - q[0], p[1] - q[1]);

/** Plain least squares for (a, b, tx, ty): 4x4 normal equations, Gaussian elimination. */
function referenceFit(src: readonly Point[], dst: readonly Point[]): Similarity {
  const M = Array.from({ length: 4 }, () => new Array(5).fill(0));
  const addRow = (row: number[], rhs: number) => {
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) M[i][j] += row[i] * row[j];
      M[i][4] += row[i] * rhs;
    }
  };
  src.forEach(([x, y], i) => {
    addRow([x, -y, 1, 0], dst[i][0]);
    addRow([y, x, 0, 1], dst[i][1]);
  });
  for (let c = 0; c < 4; c++) {
    let p = c;
    for (let r = c + 1; r < 4; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = 0; r < 4; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      for (let k = c; k < 5; k++) M[r][k] -= f * M[c][k];
    }
  }
  return { a: M[0][4] / M[0][0], b: M[1][4] / M[1][1], tx: M[2][4] / M[2][2], ty: M[3][4] / M[3][3] };
}

function expectSimilarityClose(got: Similarity, want: Similarity, tol: number): void {
  expect(Math.abs(got.a - want.a)).toBeLessThan(tol);
  expect(Math.abs(got.b - want.b)).toBeLessThan(tol);
  expect(Math.abs(got.tx - want.tx)).toBeLessThan(tol);
  expect(Math.abs(got.ty - want.ty)).toBeLessThan(tol);
}

function expectAlignmentError(f: () => unknown, message?: RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AlignmentError);
  expect((caught as Error).name).toBe('AlignmentError');
  if (message) expect((caught as Error).message).toMatch(message);
}

describe('fitSimilarity', () => {
  it('recovers a known transform exactly from noiseless pairs (2 to 68 points)', () => {
    const random = seededRandom(1);
    const T = similarity(1.37, -23, 41.5, -7.25);
    for (const n of [2, 3, 5, 33, 68]) {
      const src: Point[] = Array.from({ length: n }, () => [random() * 200, random() * 200]);
      expectSimilarityClose(fitSimilarity(src, src.map((p) => applySimilarity(T, p))), T, 1e-9);
    }
  });

  it('equals the plain normal-equations least-squares solution on noisy points', () => {
    const random = seededRandom(2);
    const T = similarity(0.61, 140, -30, 12);
    const src: Point[] = Array.from({ length: 68 }, () => [random() * 150, random() * 150]);
    const dst = src.map((p): Point => {
      const q = applySimilarity(T, p);
      return [q[0] + (random() - 0.5) * 6, q[1] + (random() - 0.5) * 6];
    });
    expectSimilarityClose(fitSimilarity(src, dst), referenceFit(src, dst), 1e-9);
  });

  it('never reflects: mirrored points get the best rotation, not a mirror', () => {
    const random = seededRandom(3);
    const src: Point[] = Array.from({ length: 10 }, () => [random() * 100, random() * 60]);
    const mirrored = src.map(([x, y]): Point => [200 - x, y]);
    // The representation cannot reflect; the fit still equals the rotation-only least squares.
    expectSimilarityClose(fitSimilarity(src, mirrored), referenceFit(src, mirrored), 1e-9);
    // A left-right symmetric pattern and its mirror image: no rotation does better than collapsing.
    const square: Point[] = [[0, 0], [10, 0], [10, 10], [0, 10]];
    expectAlignmentError(() => fitSimilarity(square, square.map(([x, y]): Point => [-x, y])), /mirror/);
  });

  it('raises AlignmentError for degenerate input', () => {
    const ok: Point[] = [[0, 0], [10, 0], [5, 8]];
    expectAlignmentError(() => fitSimilarity([[3, 4], [3, 4], [3, 4]], ok), /all \(nearly\) equal/);
    expectAlignmentError(() => fitSimilarity(ok, [[1, 1], [1, 1], [1, 1]]), /all \(nearly\) equal/);
    expectAlignmentError(() => fitSimilarity([[1e6, 1e6], [1e6 + 1e-7, 1e6], [1e6, 1e6]], ok), /equal/);
    expectAlignmentError(() => fitSimilarity([[0, 0], [NaN, 1], [2, 2]], ok), /finite/);
    expectAlignmentError(() => fitSimilarity(ok, [[0, 0], [Infinity, 1], [2, 2]]), /finite/);
    expectAlignmentError(() => fitSimilarity([[0, 0]], [[1, 1]]), /at least 2/);
    expectAlignmentError(() => fitSimilarity(ok, ok.slice(0, 2)), /mismatched/);
    expectAlignmentError(() => fitSimilarity(ok, 'nope' as unknown as Point[]), /arrays/);
  });

  it('inverts and composes consistently', () => {
    const T = similarity(2.5, 33, 4, -9);
    const U = similarity(0.7, -110, -3, 8);
    const p: Point = [12.5, -3.25];
    const TU = composeSimilarity(T, U);
    expect(dist(applySimilarity(TU, p), applySimilarity(T, applySimilarity(U, p)))).toBeLessThan(1e-12);
    expect(dist(applySimilarity(invertSimilarity(T), applySimilarity(T, p)), p)).toBeLessThan(1e-12);
    expect(similarityScale(T)).toBeCloseTo(2.5, 12);
    expect(similarityAngle(T)).toBeCloseTo((33 * Math.PI) / 180, 12);
    expectAlignmentError(() => invertSimilarity({ a: 0, b: 0, tx: 1, ty: 1 }));
  });
});

// ---------------------------------------------------------------------------------------------

/**
 * "Face" of five Gaussian blobs of different brightness on black, plus a grey frame. Blobs are
 * >= 36 px apart, so with sigma 3 (nonzero out to ~10.5 px after 8-bit rounding) the centroid
 * windows below (radius 12) see exactly one blob.
 */
const BLOBS: Point[] = [[50.3, 50.7], [105.6, 48.2], [78.1, 80.4], [55.5, 118.9], [101.2, 120.3]];

function blobImage(width: number, height: number, blobs: readonly Point[], sigma: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 0;
      blobs.forEach(([bx, by], i) => {
        v += (250 - 30 * i) * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * sigma * sigma));
      });
      const frame = x < 3 || y < 3 || x >= width - 3 || y >= height - 3 ? 120 : 0;
      const p = (y * width + x) * 3;
      data[p] = Math.min(255, Math.round(v)) || frame;
      data[p + 1] = (x * 5 + y * 3) % 256; // texture in the other channels, unused by centroids
      data[p + 2] = frame;
    }
  }
  return { width, height, data };
}

/** Intensity-weighted centroid of channel 0 in a square window (values read through get). */
function centroid(get: (x: number, y: number) => number, width: number, height: number, [cx, cy]: Point, r: number): Point {
  let s = 0, sx = 0, sy = 0;
  for (let y = Math.max(0, Math.round(cy) - r); y <= Math.min(height - 1, Math.round(cy) + r); y++) {
    for (let x = Math.max(0, Math.round(cx) - r); x <= Math.min(width - 1, Math.round(cx) + r); x++) {
      const v = get(x, y);
      s += v; sx += v * x; sy += v * y;
    }
  }
  return [sx / s, sy / s];
}

const identityPreprocess: Preprocess = { channelOrder: 'rgb', mean: [0, 0, 0], scale: [1, 1, 1] };

function warpToFloats(img: RgbImage, T: Similarity, w: number, h: number, border: BorderMode = 'zero', mirror = false) {
  const out = new Float32Array(w * h * 3);
  warpSimilarityToTensor(img, T, w, h, out, 0, { preprocess: identityPreprocess, border, mirror });
  return out;
}

/** Plain bilinear sample of channel c at (x, y) with the given border rule. */
function referenceSample(img: RgbImage, x: number, y: number, c: number, border: BorderMode): number {
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const at = (xi: number, yi: number) => {
    if (border === 'zero' && (xi < 0 || yi < 0 || xi >= img.width || yi >= img.height)) return 0;
    const cx = Math.min(Math.max(xi, 0), img.width - 1);
    const cy = Math.min(Math.max(yi, 0), img.height - 1);
    return img.data[(cy * img.width + cx) * 3 + c];
  };
  const fx = x - x0, fy = y - y0;
  return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
}

describe('warpSimilarity', () => {
  const img = blobImage(160, 150, BLOBS, 3);

  it('a known warp is recovered to < 0.01 px from landmarks found in the warped image', () => {
    // Output -> input transform: rotate 17 degrees, 1.15 input px per output px.
    const T = similarity(1.15, 17, 30, -12);
    const W = 150, H = 150;
    const out = warpToFloats(img, T, W, H);
    const srcLandmarks = BLOBS.map((b) => centroid((x, y) => img.data[(y * img.width + x) * 3], img.width, img.height, b, 12));
    const Tinv = invertSimilarity(T);
    const outLandmarks = srcLandmarks.map((p) =>
      centroid((x, y) => out[(y * W + x) * 3], W, H, applySimilarity(Tinv, p), 12),
    );
    const recovered = fitSimilarity(outLandmarks, srcLandmarks);
    for (const q of [[0, 0], [W - 1, 0], [0, H - 1], [W - 1, H - 1], [75, 75]] as Point[]) {
      expect(dist(applySimilarity(recovered, q), applySimilarity(T, q))).toBeLessThan(0.01);
    }
    expect(similarityScale(recovered)).toBeCloseTo(1.15, 4);
    expect((similarityAngle(recovered) * 180) / Math.PI).toBeCloseTo(17, 2);
  });

  it.each(['zero', 'replicate'] as BorderMode[])('matches a plain bilinear reference (%s border)', (border) => {
    // Reaches past every edge of the image.
    const T = similarity(1.3, -40, -20, 90);
    const W = 170, H = 160;
    const floats = warpToFloats(img, T, W, H, border);
    const bytes = warpSimilarity(img, T, W, H, { border });
    let maxFloat = 0, maxByte = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const [sx, sy] = applySimilarity(T, [x, y]);
        for (let c = 0; c < 3; c++) {
          const ref = referenceSample(img, sx, sy, c, border);
          const i = (y * W + x) * 3 + c;
          maxFloat = Math.max(maxFloat, Math.abs(floats[i] - ref));
          maxByte = Math.max(maxByte, Math.abs(bytes.data[i] - ref));
        }
      }
    }
    expect(maxFloat).toBeLessThan(1e-3);
    expect(maxByte).toBeLessThanOrEqual(0.5 + 1e-3);
  });

  it('fills with the border rule where the output misses the image entirely', () => {
    const flat: RgbImage = { width: 4, height: 4, data: new Uint8Array(48).fill(200) };
    const away = similarity(1, 0, 1000, 1000);
    expect(warpSimilarity(flat, away, 5, 5, { border: 'zero' }).data.every((v) => v === 0)).toBe(true);
    expect(warpSimilarity(flat, away, 5, 5, { border: 'replicate' }).data.every((v) => v === 200)).toBe(true);
  });

  it('shrinking by 5x averages instead of aliasing, and keeps the geometry', () => {
    const big = blobImage(800, 750, BLOBS.map(([x, y]): Point => [x * 5, y * 5]), 15);
    const T = similarity(5, 10, 60, -40);
    const W = 150, H = 150;
    const out = warpToFloats(big, T, W, H);
    const srcLandmarks = BLOBS.map((b) => centroid((x, y) => big.data[(y * big.width + x) * 3], big.width, big.height, [b[0] * 5, b[1] * 5], 60));
    const Tinv = invertSimilarity(T);
    const outLandmarks = srcLandmarks.map((p) => centroid((x, y) => out[(y * W + x) * 3], W, H, applySimilarity(Tinv, p), 12));
    outLandmarks.forEach((p, i) => expect(dist(p, applySimilarity(Tinv, srcLandmarks[i]))).toBeLessThan(0.02));

    const board: RgbImage = { width: 400, height: 400, data: new Uint8Array(400 * 400 * 3) };
    for (let i = 0; i < 400 * 400; i++) if (((i % 400) + Math.floor(i / 400)) % 2) board.data.fill(255, 3 * i, 3 * i + 3);
    const thumb = warpSimilarity(board, similarity(6.2, 25, 30, 20), 50, 50);
    for (const v of thumb.data) expect(Math.abs(v - 127.5)).toBeLessThan(12);
  });

  it('mirror flips the output crop left-right', () => {
    const T = similarity(0.9, 12, 20, 5);
    const W = 61, H = 40;
    const plain = warpToFloats(img, T, W, H);
    const mirrored = warpToFloats(img, T, W, H, 'zero', true);
    let maxDiff = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < 3; c++) {
          maxDiff = Math.max(maxDiff, Math.abs(mirrored[(y * W + x) * 3 + c] - plain[(y * W + (W - 1 - x)) * 3 + c]));
        }
      }
    }
    expect(maxDiff).toBeLessThan(1e-3);
    const bytes = warpSimilarity(img, T, W, H, { mirror: true });
    const reference = mirrorImage(warpSimilarity(img, T, W, H));
    expect(bytes.data.every((v, i) => Math.abs(v - reference.data[i]) <= 1)).toBe(true);
  });

  it('normalises into a batch slot: (pixel[order] - mean) * scale', () => {
    const T = similarity(1, 5, 10, 10);
    const W = 47, H = 55, n = W * H * 3;
    const raw = warpToFloats(img, T, W, H);
    const pre: Preprocess = { channelOrder: 'bgr', mean: [10, 20, 30], scale: [0.5, 0.25, 2] };
    const batch = new Float32Array(3 * n).fill(NaN);
    warpSimilarityToTensor(img, T, W, H, batch, n, { preprocess: pre });
    for (let i = 0; i < n; i += 3) {
      for (let c = 0; c < 3; c++) {
        expect(batch[n + i + c]).toBeCloseTo((raw[i + 2 - c] - pre.mean[c]) * pre.scale[c], 3);
      }
    }
    expect(batch.subarray(0, n).every(Number.isNaN)).toBe(true);
    expect(batch.subarray(2 * n).every(Number.isNaN)).toBe(true);
  });

  it('rejects bad arguments with typed errors', () => {
    const T = similarity(1, 0, 0, 0);
    expect(() => warpSimilarityToTensor(img, T, 10, 10, new Float32Array(299), 0, { preprocess: identityPreprocess })).toThrow(ImageShapeError);
    expect(() => warpSimilarityToTensor(img, T, 10, 10, new Float32Array(600), 301, { preprocess: identityPreprocess })).toThrow(ImageShapeError);
    expect(() => warpSimilarity(img, T, 0, 10)).toThrow(ImageShapeError);
    expectAlignmentError(() => warpSimilarity(img, { a: 0, b: 0, tx: 0, ty: 0 }, 10, 10));
    expectAlignmentError(() => warpSimilarity(img, { a: NaN, b: 0, tx: 0, ty: 0 }, 10, 10));
  });
});

// ---------------------------------------------------------------------------------------------

/** 68 landmarks: the dlib mean face (17..67) under `T`, and arbitrary jaw points 0..16. */
function landmarksFromTemplate(T: Similarity, random = seededRandom(7)): Point[] {
  return Array.from({ length: 68 }, (_, i): Point =>
    i < 17 ? [random() * 100, random() * 100] : applySimilarity(T, dlibTemplatePoint(i)),
  );
}

describe('teacher chip (dlib get_face_chip_details, size 150, padding 0.25)', () => {
  it('template points lie inside the chip, eyes level and symmetric', () => {
    for (let i = 17; i <= 67; i++) {
      const [x, y] = dlibTemplatePoint(i);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(TEACHER_CHIP_SIZE - 1);
      expect(y).toBeLessThanOrEqual(TEACHER_CHIP_SIZE - 1);
    }
    const template = Array.from({ length: 68 }, (_, i): Point => (i < 17 ? [0, 0] : dlibTemplatePoint(i)));
    const [leftEye, rightEye] = landmarks68To5(template);
    expect(leftEye[1]).toBeCloseTo(rightEye[1], 9);
    expect(leftEye[0]).toBeLessThan(rightEye[0]);
    expect((leftEye[0] + rightEye[0]) / 2).toBeCloseTo(dlibTemplatePoint(30)[0], 3); // nose tip on the midline
  });

  it('fits the 33 points dlib uses: no eyebrows, no lower lip', () => {
    expect(DLIB_CHIP_FIT_LANDMARKS).toHaveLength(33);
    expect(DLIB_CHIP_FIT_LANDMARKS).toEqual([...Array.from({ length: 28 }, (_, k) => 27 + k), 60, 61, 62, 63, 64]);
  });

  it('reproduces dlib: chip_details rectangle, then the 3-corner affine of extract_image_chips', () => {
    const random = seededRandom(11);
    const T0 = similarity(1.21, 8, 20, 31);
    // Noisy landmarks so the fit is a real least-squares problem; eyebrows and lower lip wildly off.
    const landmarks = landmarksFromTemplate(T0).map(([x, y], i): Point =>
      i <= 26 || (i >= 55 && i <= 59) || i >= 65 ? [x + 40 * random(), y - 30] : [x + random() - 0.5, y + random() - 0.5],
    );
    // Step by step as in dlib/image_transforms/interpolation.h.
    const T = fitSimilarity(DLIB_CHIP_FIT_LANDMARKS.map((i) => dlibTemplatePoint(i)), DLIB_CHIP_FIT_LANDMARKS.map((i) => landmarks[i]));
    const angle = Math.atan2(T.b, T.a);
    const scale = Math.hypot(T.a, T.b);
    const C = applySimilarity(T, [75, 75]);
    const half = (150 * scale - 1) / 2; // centered_drect(p, w, h) spans w - 1
    const rotate = ([x, y]: Point): Point => [
      Math.cos(angle) * (x - C[0]) - Math.sin(angle) * (y - C[1]) + C[0],
      Math.sin(angle) * (x - C[0]) + Math.cos(angle) * (y - C[1]) + C[1],
    ];
    const tl = rotate([C[0] - half, C[1] - half]);
    const tr = rotate([C[0] + half, C[1] - half]);
    const bl = rotate([C[0] - half, C[1] + half]);
    const dlibMap = ([x, y]: Point): Point => [
      tl[0] + ((tr[0] - tl[0]) * x) / 149 + ((bl[0] - tl[0]) * y) / 149,
      tl[1] + ((tr[1] - tl[1]) * x) / 149 + ((bl[1] - tl[1]) * y) / 149,
    ];
    const ours = dlibFaceChipTransform(landmarks);
    for (const q of [[0, 0], [149, 0], [0, 149], [149, 149], [37.5, 101.25]] as Point[]) {
      expect(dist(applySimilarity(ours, q), dlibMap(q))).toBeLessThan(1e-9);
    }
  });

  it('alignForTeacher returns a 150x150 chip with the landmarks where dlib puts them', () => {
    const s = 0.8;
    const T0 = similarity(s, -14, 40, 25);
    const landmarks = landmarksFromTemplate(T0);
    const img = blobImage(200, 190, BLOBS, 3);
    const { chip, chipToImage } = alignForTeacher(img, landmarks);
    expect([chip.width, chip.height]).toEqual([150, 150]);
    expect(similarityAngle(chipToImage)).toBeCloseTo((-14 * Math.PI) / 180, 9);
    const k = (150 * s - 1) / 149;
    expect(similarityScale(chipToImage)).toBeCloseTo(k, 9);
    // dlib's chip is the template frame shrunk about 74.5 instead of 75: landmarks land up to
    // ~0.8 px from the template points, exactly at 74.5 + (s/k)(template - 75).
    const toChip = invertSimilarity(chipToImage);
    for (let i = 17; i <= 67; i++) {
      const [tx, ty] = dlibTemplatePoint(i);
      const expected: Point = [74.5 + (s / k) * (tx - 75), 74.5 + (s / k) * (ty - 75)];
      expect(dist(applySimilarity(toChip, landmarks[i]), expected)).toBeLessThan(1e-9);
    }
    expectAlignmentError(() => alignForTeacher(img, landmarks.slice(0, 67)), /68/);
    expectAlignmentError(() => alignForTeacher(img, landmarks.map((): Point => [5, 5])), /equal/);
    expectAlignmentError(() => alignForTeacher(img, landmarks.map((p, i): Point => (i === 40 ? [NaN, 1] : p))), /finite/);
  });
});

describe('student crop (47x55 from the CelebA geometry)', () => {
  it('template: eyes level, symmetric about the centre column, mouth below on the midline', () => {
    const { leftEye, rightEye, mouthCentre } = STUDENT_TEMPLATE;
    expect(leftEye[1]).toBe(rightEye[1]);
    expect((leftEye[0] + rightEye[0]) / 2).toBeCloseTo((STUDENT_CROP_WIDTH - 1) / 2, 9);
    expect(Math.abs(mouthCentre[0] - (STUDENT_CROP_WIDTH - 1) / 2)).toBeLessThan(0.1);
    // CelebA proportions survive: eye distance 37.492 and eye-to-mouth 41.514 canvas px.
    expect((mouthCentre[1] - leftEye[1]) / (rightEye[0] - leftEye[0])).toBeCloseTo(41.514 / 37.492, 9);
    for (const [x, y] of [leftEye, rightEye, mouthCentre]) {
      expect(x).toBeGreaterThan(0);
      expect(x).toBeLessThan(STUDENT_CROP_WIDTH - 1);
      expect(y).toBeGreaterThan(0);
      expect(y).toBeLessThan(STUDENT_CROP_HEIGHT - 1);
    }
  });

  it('maps eye centres and mouth midpoint onto the template, from 5 or 68 landmarks', () => {
    const T0 = similarity(2.2, 9, 50, 30);
    const random = seededRandom(5);
    // the template of the default window (STUDENT_WINDOW_SCALE)
    const template = studentTemplate();
    const five: Point[] = [
      applySimilarity(T0, template.leftEye),
      applySimilarity(T0, template.rightEye),
      [random() * 300, random() * 300], // nose tip: not used
      applySimilarity(T0, [template.mouthCentre[0] - 8, template.mouthCentre[1] + 1]),
      applySimilarity(T0, [template.mouthCentre[0] + 8, template.mouthCentre[1] - 1]),
    ];
    expectSimilarityClose(studentCropTransform(five), T0, 1e-9);

    const landmarks68 = Array.from({ length: 68 }, (): Point => [100 + random() * 100, 100 + random() * 120]);
    expectSimilarityClose(studentCropTransform(landmarks68), studentCropTransform(landmarks68To5(landmarks68)), 1e-12);

    const img = blobImage(200, 200, BLOBS, 3);
    const { chip, chipToImage } = alignForStudent(img, five);
    expect([chip.width, chip.height]).toEqual([STUDENT_CROP_WIDTH, STUDENT_CROP_HEIGHT]);
    expectSimilarityClose(chipToImage, T0, 1e-9);
    expectAlignmentError(() => alignForStudent(img, five.slice(0, 4)), /5/);
    expectAlignmentError(() => alignForStudent(img, five.map((): Point => [1, 2])), /equal/);
  });
});

describe('student window scale (field of view)', () => {
  it('scale 1 is the template; a larger scale draws it towards the crop centre and shows more image per crop pixel', () => {
    expect(studentTemplate(1)).toEqual({ ...STUDENT_TEMPLATE });
    expect(studentTemplate()).toEqual(studentTemplate(STUDENT_WINDOW_SCALE));
    const centre: Point = [(STUDENT_CROP_WIDTH - 1) / 2, (STUDENT_CROP_HEIGHT - 1) / 2];
    const wide = studentTemplate(1.3);
    for (const key of ['leftEye', 'rightEye', 'mouthCentre'] as const) {
      expect(dist(wide[key], centre) * 1.3).toBeCloseTo(dist(STUDENT_TEMPLATE[key], centre), 9);
    }
    const random = seededRandom(9);
    const landmarks68 = Array.from({ length: 68 }, (): Point => [100 + random() * 100, 100 + random() * 120]);
    const plain = studentCropTransform(landmarks68, 1);
    const wider = studentCropTransform(landmarks68, 1.3);
    expect(similarityScale(wider) / similarityScale(plain)).toBeCloseTo(1.3, 9);
    expect(similarityAngle(wider)).toBeCloseTo(similarityAngle(plain), 9);
    // the crop centre sees the same image point at every scale
    expect(dist(applySimilarity(wider, centre), applySimilarity(plain, centre))).toBeLessThan(1e-9);
    const img = blobImage(200, 200, BLOBS, 3);
    expectSimilarityClose(alignForStudent(img, landmarks68, 1.3).chipToImage, wider, 1e-12);
    for (const bad of [0, -1, NaN, Infinity]) expectAlignmentError(() => studentTemplate(bad), /window scale/);
  });
});

describe('teacherChipInStudentCrop', () => {
  it("puts the mean face's eyes and mouth of the chip onto the student template, upright", () => {
    const chipToCrop = teacherChipInStudentCrop(1);
    const meanFace = Array.from({ length: 68 }, (_, i): Point => (i < 17 ? [0, 0] : dlibTemplatePoint(i)));
    const [leftEye, rightEye, , mouthLeft, mouthRight] = landmarks68To5(meanFace);
    const mouth: Point = [(mouthLeft[0] + mouthRight[0]) / 2, (mouthLeft[1] + mouthRight[1]) / 2];
    // dlib's mean face is symmetric and level, so the 3-point fit is exact up to rounding
    expect(dist(applySimilarity(chipToCrop, leftEye), STUDENT_TEMPLATE.leftEye)).toBeLessThan(0.5);
    expect(dist(applySimilarity(chipToCrop, rightEye), STUDENT_TEMPLATE.rightEye)).toBeLessThan(0.5);
    expect(dist(applySimilarity(chipToCrop, mouth), STUDENT_TEMPLATE.mouthCentre)).toBeLessThan(0.5);
    expect(Math.abs(similarityAngle(chipToCrop))).toBeLessThan(1e-2);
    // the crop is coarser than the chip: fewer than one crop pixel per chip pixel
    expect(similarityScale(chipToCrop)).toBeLessThan(1);
    // a wider window puts the chip onto that window's template, 1.3x smaller
    const wide = teacherChipInStudentCrop(1.3);
    expect(dist(applySimilarity(wide, leftEye), studentTemplate(1.3).leftEye)).toBeLessThan(0.5);
    expect(similarityScale(chipToCrop) / similarityScale(wide)).toBeCloseTo(1.3, 9);
  });
});

describe('landmarks68To5', () => {
  it('averages the eye contours and picks nose tip and mouth corners, left = image left', () => {
    const pts = Array.from({ length: 68 }, (_, i): Point => [i, 2 * i]);
    expect(landmarks68To5(pts)).toEqual([[38.5, 77], [44.5, 89], [30, 60], [48, 96], [54, 108]]);
    expectAlignmentError(() => landmarks68To5(pts.slice(1)), /68/);
    expectAlignmentError(() => landmarks68To5(pts.map((p, i): Point => (i === 3 ? [1, Infinity] : p))), /finite/);
  });
});
