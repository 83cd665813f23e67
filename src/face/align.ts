/**
 * Face alignment: least-squares similarity fits from landmarks to a template, and bilinear warps
 * that cut the aligned crop out of an image (as an RgbImage, or straight into a normalised
 * NHWC Float32Array the networks consume).
 *
 * Coordinate convention (dlib's and OpenCV's): the centre of pixel (i, j) is the point (i, j),
 * so an image of width W covers x in [-0.5, W - 0.5]. Landmarks from a detector that puts pixel
 * centres at (i + 0.5, j + 0.5) (canvas convention) must be shifted by -0.5 first.
 */
import type { Preprocess } from '../engine/graph.js';
import { assertRgbImage, cropImage, ImageShapeError, resizeBilinear, type RgbImage } from '../image.js';
import { AlignmentError, assertLandmarks, landmarks68To5, LANDMARKS_5, type Point } from './landmarks.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from './student-graph.js';

export { AlignmentError } from './landmarks.js';
export type { Point } from './landmarks.js';

/**
 * A similarity transform without reflection: rotation, uniform scale, translation.
 *   x' = a*x - b*y + tx
 *   y' = b*x + a*y + ty
 * with a = s*cos(theta), b = s*sin(theta) (theta measured from +x towards +y, i.e. clockwise
 * on screen because y points down).
 */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

export function applySimilarity(t: Similarity, [x, y]: Point): Point {
  return [t.a * x - t.b * y + t.tx, t.b * x + t.a * y + t.ty];
}

export function similarityScale(t: Similarity): number {
  return Math.hypot(t.a, t.b);
}

/** Rotation angle in radians. */
export function similarityAngle(t: Similarity): number {
  return Math.atan2(t.b, t.a);
}

export function invertSimilarity(t: Similarity): Similarity {
  const d = t.a * t.a + t.b * t.b;
  if (!(d > 0) || !Number.isFinite(d)) throw new AlignmentError('cannot invert a similarity of scale 0 or non-finite');
  const a = t.a / d;
  const b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/** The transform p -> outer(inner(p)). */
export function composeSimilarity(outer: Similarity, inner: Similarity): Similarity {
  return {
    a: outer.a * inner.a - outer.b * inner.b,
    b: outer.b * inner.a + outer.a * inner.b,
    tx: outer.a * inner.tx - outer.b * inner.ty + outer.tx,
    ty: outer.b * inner.tx + outer.a * inner.ty + outer.ty,
  };
}

/**
 * Least-squares similarity (no reflection) mapping src[i] onto dst[i]: Umeyama's solution with
 * the rotation restricted to det = +1, as dlib's find_similarity_transform computes it. In 2-D
 * it has a closed form: with centred points, (a + ib) = sum(conj(p) q) / sum(|p|^2) in complex
 * notation. Note the fit is not symmetric: fitting dst -> src is not exactly the inverse.
 *
 * Throws AlignmentError for fewer than 2 pairs, mismatched counts, NaN/Infinity, all-equal
 * points on either side, or a mirrored configuration no rotation can approach.
 */
export function fitSimilarity(src: readonly Point[], dst: readonly Point[]): Similarity {
  if (!Array.isArray(src) || !Array.isArray(dst)) throw new AlignmentError('point lists must be arrays of [x, y]');
  if (src.length !== dst.length) {
    throw new AlignmentError(`mismatched point counts: ${src.length} source, ${dst.length} destination`);
  }
  if (src.length < 2) throw new AlignmentError(`a similarity needs at least 2 point pairs, got ${src.length}`);
  assertLandmarks(src, src.length);
  assertLandmarks(dst, dst.length);
  const n = src.length;
  let msx = 0, msy = 0, mdx = 0, mdy = 0;
  for (let i = 0; i < n; i++) {
    msx += src[i][0]; msy += src[i][1];
    mdx += dst[i][0]; mdy += dst[i][1];
  }
  msx /= n; msy /= n; mdx /= n; mdy /= n;
  let srcVar = 0, dstVar = 0, re = 0, im = 0, srcMax = 0, dstMax = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i][0] - msx, py = src[i][1] - msy;
    const qx = dst[i][0] - mdx, qy = dst[i][1] - mdy;
    srcVar += px * px + py * py;
    dstVar += qx * qx + qy * qy;
    re += px * qx + py * qy;
    im += px * qy - py * qx;
    srcMax = Math.max(srcMax, Math.abs(src[i][0]), Math.abs(src[i][1]));
    dstMax = Math.max(dstMax, Math.abs(dst[i][0]), Math.abs(dst[i][1]));
  }
  const srcRms = Math.sqrt(srcVar / n);
  const dstRms = Math.sqrt(dstVar / n);
  // Spread below rounding noise of the coordinates: the points coincide.
  if (!(srcRms > 1e-9 * (1 + srcMax))) throw new AlignmentError('degenerate source points: all (nearly) equal');
  if (!(dstRms > 1e-9 * (1 + dstMax))) throw new AlignmentError('degenerate destination points: all (nearly) equal');
  const a = re / srcVar;
  const b = im / srcVar;
  if (!(Math.hypot(a, b) * srcRms > 1e-9 * dstRms)) {
    throw new AlignmentError('no rotation maps the source onto the destination points (mirror images of each other?)');
  }
  return { a, b, tx: mdx - (a * msx - b * msy), ty: mdy - (b * msx + a * msy) };
}

// ---------------------------------------------------------------------------------------------
// Warping

/** What samples outside the image read: the nearest edge pixel, or black (0). */
export type BorderMode = 'replicate' | 'zero';

export interface WarpOptions {
  /** Default 'replicate'. */
  border?: BorderMode;
  /** Flip the OUTPUT left-right: output column x shows what column (width-1-x) would. */
  mirror?: boolean;
}

export interface TensorWarpOptions extends WarpOptions {
  /** Per channel: out = (pixel[channelOrder] - mean) * scale, pixel in 0..255. */
  preprocess: Preprocess;
}

/** out(x, y) samples the input at (m00*x + m01*y + m02, m10*x + m11*y + m12). */
interface Affine {
  m00: number; m01: number; m02: number;
  m10: number; m11: number; m12: number;
}

function affineOf(t: Similarity): Affine {
  return { m00: t.a, m01: -t.b, m02: t.tx, m10: t.b, m11: t.a, m12: t.ty };
}

function checkOutToIn(t: Similarity): void {
  const s = similarityScale(t);
  if (!(s > 0) || !Number.isFinite(s) || !Number.isFinite(t.tx) || !Number.isFinite(t.ty)) {
    throw new AlignmentError(`invalid warp transform ${JSON.stringify(t)}: needs finite values and scale > 0`);
  }
}

function checkOutSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageShapeError(`output size must be positive integers, got ${width}x${height}`);
  }
}

/**
 * Bilinear sampling shrinks by at most 2x without aliasing. When the transform shrinks more
 * (input pixels per output pixel > 2), the part of the input the output covers is first
 * area-averaged down to about one input pixel per output pixel and the transform re-aimed at
 * that smaller image (dlib's chip extraction uses an image pyramid for the same reason).
 */
function antiAliased(img: RgbImage, map: Affine, outW: number, outH: number): { img: RgbImage; map: Affine } {
  const scale = Math.sqrt(Math.abs(map.m00 * map.m11 - map.m01 * map.m10));
  if (scale <= 2) return { img, map };
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const [x, y] of [[-0.5, -0.5], [outW - 0.5, -0.5], [-0.5, outH - 0.5], [outW - 0.5, outH - 0.5]]) {
    const sx = map.m00 * x + map.m01 * y + map.m02;
    const sy = map.m10 * x + map.m11 * y + map.m12;
    minX = Math.min(minX, sx); maxX = Math.max(maxX, sx);
    minY = Math.min(minY, sy); maxY = Math.max(maxY, sy);
  }
  const margin = 2 * scale; // two reduced pixels, for the bilinear taps at the region's edge
  const x0 = Math.max(0, Math.floor(minX - margin));
  const y0 = Math.max(0, Math.floor(minY - margin));
  const x1 = Math.min(img.width, Math.ceil(maxX + margin));
  const y1 = Math.min(img.height, Math.ceil(maxY + margin));
  if (x1 - x0 < 2 || y1 - y0 < 2) return { img, map }; // output lies (almost) entirely off the image
  const w = Math.max(1, Math.ceil((x1 - x0) / scale));
  const h = Math.max(1, Math.ceil((y1 - y0) / scale));
  const small = resizeBilinear(cropImage(img, x0, y0, x1 - x0, y1 - y0), w, h);
  // Input x maps to reduced u = (x - x0 + 0.5) * kx - 0.5 (pixel centres stay aligned).
  const kx = w / (x1 - x0);
  const ky = h / (y1 - y0);
  const ox = (0.5 - x0) * kx - 0.5;
  const oy = (0.5 - y0) * ky - 0.5;
  return {
    img: small,
    map: {
      m00: map.m00 * kx, m01: map.m01 * kx, m02: map.m02 * kx + ox,
      m10: map.m10 * ky, m11: map.m11 * ky, m12: map.m12 * ky + oy,
    },
  };
}

/**
 * The sampling loop behind both warp variants: out[offset + (y*outW + x)*3 + c] =
 * bilinear(input)[order[c]] * scale[c] + shift[c]. Always Float32Array, so the loop stays
 * monomorphic (and fast) however callers mix the variants.
 */
function sample(
  img: RgbImage,
  map: Affine,
  outW: number,
  outH: number,
  border: BorderMode,
  out: Float32Array,
  offset: number,
  order: readonly [number, number, number],
  scale: readonly [number, number, number],
  shift: readonly [number, number, number],
): void {
  const w = img.width;
  const h = img.height;
  const src = img.data;
  const row = w * 3;
  const zero = border === 'zero';
  const [c0, c1, c2] = order;
  const [s0, s1, s2] = scale;
  const [h0, h1, h2] = shift;
  let o = offset;
  for (let y = 0; y < outH; y++) {
    let sx = map.m01 * y + map.m02;
    let sy = map.m11 * y + map.m12;
    for (let x = 0; x < outW; x++, sx += map.m00, sy += map.m10, o += 3) {
      const xf = Math.floor(sx);
      const yf = Math.floor(sy);
      const fx = sx - xf;
      const fy = sy - yf;
      let w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
      let p00: number, p01: number, p10: number, p11: number;
      if (xf >= 0 && yf >= 0 && xf < w - 1 && yf < h - 1) {
        p00 = yf * row + xf * 3;
        p01 = p00 + 3;
        p10 = p00 + row;
        p11 = p10 + 3;
      } else {
        if (zero) {
          if (xf < 0 || xf >= w) w00 = w10 = 0;
          if (xf + 1 < 0 || xf + 1 >= w) w01 = w11 = 0;
          if (yf < 0 || yf >= h) w00 = w01 = 0;
          if (yf + 1 < 0 || yf + 1 >= h) w10 = w11 = 0;
        }
        const xa = xf < 0 ? 0 : xf >= w ? w - 1 : xf;
        const xb = xf + 1 < 0 ? 0 : xf + 1 >= w ? w - 1 : xf + 1;
        const ya = yf < 0 ? 0 : yf >= h ? h - 1 : yf;
        const yb = yf + 1 < 0 ? 0 : yf + 1 >= h ? h - 1 : yf + 1;
        p00 = ya * row + xa * 3;
        p01 = ya * row + xb * 3;
        p10 = yb * row + xa * 3;
        p11 = yb * row + xb * 3;
      }
      out[o] = (w00 * src[p00 + c0] + w01 * src[p01 + c0] + w10 * src[p10 + c0] + w11 * src[p11 + c0]) * s0 + h0;
      out[o + 1] = (w00 * src[p00 + c1] + w01 * src[p01 + c1] + w10 * src[p10 + c1] + w11 * src[p11 + c1]) * s1 + h1;
      out[o + 2] = (w00 * src[p00 + c2] + w01 * src[p01 + c2] + w10 * src[p10 + c2] + w11 * src[p11 + c2]) * s2 + h2;
    }
  }
}

/** Validates, mirrors and anti-aliases: the sampling map both warp variants start from. */
function prepareWarp(img: RgbImage, outToIn: Similarity, outW: number, outH: number, mirror: boolean) {
  assertRgbImage(img);
  checkOutSize(outW, outH);
  checkOutToIn(outToIn);
  let map = affineOf(outToIn);
  if (mirror) {
    // Substitute x -> (outW - 1 - x).
    map = { ...map, m00: -map.m00, m02: map.m02 + map.m00 * (outW - 1), m10: -map.m10, m12: map.m12 + map.m10 * (outW - 1) };
  }
  return antiAliased(img, map, outW, outH);
}

/**
 * Cuts an outWidth x outHeight image out of img: output pixel (x, y) is the bilinear sample of
 * img at outToIn(x, y) (the transform maps OUTPUT coordinates to INPUT coordinates, pixel
 * centres at integers). Shrinking by more than 2x area-averages first.
 */
export function warpSimilarity(
  img: RgbImage,
  outToIn: Similarity,
  outWidth: number,
  outHeight: number,
  options: WarpOptions = {},
): RgbImage {
  const { img: source, map } = prepareWarp(img, outToIn, outWidth, outHeight, options.mirror ?? false);
  const values = new Float32Array(outWidth * outHeight * 3);
  sample(source, map, outWidth, outHeight, options.border ?? 'replicate', values, 0, [0, 1, 2], [1, 1, 1], [0, 0, 0]);
  const out = new Uint8ClampedArray(values.length);
  out.set(values); // rounds and clamps
  return { width: outWidth, height: outHeight, data: new Uint8Array(out.buffer) };
}

/**
 * warpSimilarity fused with the network's input normalisation: writes the crop as one
 * [outHeight, outWidth, 3] NHWC float block into out at element offset `offset` (so a batch is
 * filled image by image), out = (pixel[channelOrder] - mean) * scale, without an 8-bit round trip.
 */
export function warpSimilarityToTensor(
  img: RgbImage,
  outToIn: Similarity,
  outWidth: number,
  outHeight: number,
  out: Float32Array,
  offset: number,
  options: TensorWarpOptions,
): void {
  const need = outWidth * outHeight * 3;
  if (!Number.isInteger(offset) || offset < 0 || offset + need > out.length) {
    throw new ImageShapeError(`tensor of ${out.length} floats has no room for ${need} at offset ${offset}`);
  }
  const { channelOrder, mean, scale } = options.preprocess;
  const order: [number, number, number] = channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const shift: [number, number, number] = [-mean[0] * scale[0], -mean[1] * scale[1], -mean[2] * scale[2]];
  const { img: source, map } = prepareWarp(img, outToIn, outWidth, outHeight, options.mirror ?? false);
  sample(source, map, outWidth, outHeight, options.border ?? 'replicate', out, offset, order, scale, shift);
}

// ---------------------------------------------------------------------------------------------
// Templates

/** An aligned crop and the transform from crop coordinates back to the source image. */
export interface AlignedFace {
  chip: RgbImage;
  chipToImage: Similarity;
}

/**
 * dlib's mean face shape for landmarks 17..67 (index i - 17), in a unit square, copied from
 * get_face_chip_details() in dlib/image_transforms/interpolation.h.
 */
export const DLIB_MEAN_FACE_X: readonly number[] = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
  0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
  0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
  0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
  0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
  0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
  0.553364, 0.490127, 0.42689,
];
export const DLIB_MEAN_FACE_Y: readonly number[] = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
  0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
  0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
  0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
  0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
  0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
  0.784792, 0.824182, 0.831803, 0.824182,
];

/**
 * The landmarks get_face_chip_details() actually fits: 17..67 minus the eyebrows (17..26) and
 * the lower lip (55..59, 65..67), which move with expression. 33 points.
 */
export const DLIB_CHIP_FIT_LANDMARKS: readonly number[] = Array.from({ length: 51 }, (_, k) => k + 17).filter(
  (i) => !(i <= 26 || (i >= 55 && i <= 59) || i >= 65),
);

/** The dlib face-recognition ResNet (teacher) input: get_face_chip_details(shape, 150, 0.25). */
export const TEACHER_CHIP_SIZE = 150;
export const TEACHER_CHIP_PADDING = 0.25;

/** Template position of landmark i (17..67) in a dlib chip: (padding + mean) / (2*padding + 1) * size. */
export function dlibTemplatePoint(i: number, size = TEACHER_CHIP_SIZE, padding = TEACHER_CHIP_PADDING): Point {
  if (!Number.isInteger(i) || i < 17 || i > 67) throw new AlignmentError(`dlib's template covers landmarks 17..67, not ${i}`);
  const k = size / (2 * padding + 1);
  return [(padding + DLIB_MEAN_FACE_X[i - 17]) * k, (padding + DLIB_MEAN_FACE_Y[i - 17]) * k];
}

/**
 * The chip-to-image transform of dlib's extract_image_chip(img, get_face_chip_details(shape,
 * size, padding)), reproduced step by step:
 *  1. T = find_similarity_transform(template, landmarks) over DLIB_CHIP_FIT_LANDMARKS (chip -> image);
 *  2. chip_details keeps T's angle and scale s and the rectangle centred on T(size/2, size/2)
 *     with side size*s - 1 (centered_drect subtracts one);
 *  3. extraction maps chip pixel 0 and size-1 onto that rectangle's edges.
 * Net effect: q -> C + R(angle) * (size*s - 1)/(size - 1) * (q - (size - 1)/2). This differs from
 * T itself by a fraction of a pixel, which is why it is reproduced rather than using T.
 */
export function dlibFaceChipTransform(
  landmarks68: readonly Point[],
  size = TEACHER_CHIP_SIZE,
  padding = TEACHER_CHIP_PADDING,
): Similarity {
  assertLandmarks(landmarks68, 68);
  if (!Number.isInteger(size) || size < 2 || !(padding >= 0)) {
    throw new AlignmentError(`invalid chip size ${size} or padding ${padding}`);
  }
  const template = DLIB_CHIP_FIT_LANDMARKS.map((i) => dlibTemplatePoint(i, size, padding));
  const observed = DLIB_CHIP_FIT_LANDMARKS.map((i) => landmarks68[i]);
  const t = fitSimilarity(template, observed);
  const s = similarityScale(t);
  const centre = applySimilarity(t, [size / 2, size / 2]);
  const k = (size * s - 1) / (size - 1) / s; // per-pixel scale relative to T's
  const a = t.a * k;
  const b = t.b * k;
  const q0 = (size - 1) / 2;
  return { a, b, tx: centre[0] - (a * q0 - b * q0), ty: centre[1] - (b * q0 + a * q0) };
}

/**
 * The teacher's 150x150 chip, as dlib cuts it (black outside the image). Sampling differs from
 * dlib only in the border band (we blend towards black, dlib blacks any sample whose 2x2
 * neighbourhood leaves the image) and for faces over 2x the chip size (area averaging here,
 * dlib's pyramid_down there).
 */
export function alignForTeacher(img: RgbImage, landmarks68: readonly Point[]): AlignedFace {
  const chipToImage = dlibFaceChipTransform(landmarks68);
  const chip = warpSimilarity(img, chipToImage, TEACHER_CHIP_SIZE, TEACHER_CHIP_SIZE, { border: 'zero' });
  return { chip, chipToImage };
}

/*
 * The student's 55x47 (height x width) crop.
 *
 * MobileID trained on CelebA "align&cropped" images: a non-reflective similarity fit of the
 * left eye, right eye and mouth-corner midpoint to (70.745, 112), (108.237, 112),
 * (89.432, 153.514) in a 178x218 canvas (the public MobileID release). We keep that fit exactly (same
 * three points, same target geometry) and cut a fixed 47x55 window out of the CelebA canvas:
 *
 *   window = canvas x 51.891 .. 127.091, y 92 .. 180  (1.6 canvas px per crop px)
 *
 * Why these numbers. 68-point landmarks (face-api's landmark net) of 200 UTKFace and 200 LFW
 * images, mapped into the CelebA canvas by the fit above (median, 5th-95th percentile):
 *   eyebrow top (min y of 17..26)  UTK 97.3 (93.9-100.5)   LFW 97.8 (94.1-101.0)
 *   chin (8)                       UTK 180.7 (175.5-186.2) LFW 182.4 (178.1-188.9)
 *   jaw sides (0, 16)              x 44 and 134 in both sets
 *   UTKFace chip edges             x 41.8 .. 140.6, y 84.8 .. 183.1 (bottom 5th pct 178.9)
 *   LFW 192x192 edges              x 8 .. 177, y 42 .. 211
 * UTKFace chips end at the chin, so a window reaching further down would be filled with
 * replicated edge rows in training but with real neck in LFW testing. The window therefore
 * runs from ~5 canvas px above the eyebrows (top 92: brows inside for 98% of both sets) to
 * the chin line (bottom 180: inside the UTKFace chip, within one crop pixel, for 97% of
 * images; the chin point itself lies within a few crop pixels of the bottom edge). 88 canvas
 * px over 55 rows gives 1.6 canvas px per crop pixel; 47 columns then span 75.2 canvas px,
 * centred on the eye midpoint (x 89.491): the face interior from cheek to cheek, inside every
 * UTKFace chip (jaw outline at x 44/134 just outside, where background starts).
 * Resulting template in crop pixels: eyes at (11.284, 12) and (34.716, 12) (symmetric about
 * column 23, the centre), mouth centre at (22.963, 37.946); eye distance 23.4 px.
 */

/** CelebA align&cropped target points in its 178x218 canvas. */
export const CELEBA_TEMPLATE = {
  leftEye: [70.745, 112] as Point,
  rightEye: [108.237, 112] as Point,
  mouthCentre: [89.432, 153.514] as Point,
} as const;

/**
 * The student window in CelebA canvas coordinates: left and top edges and canvas pixels per crop
 * pixel (see the comment above). Left centres the eye midpoint on crop column 23.
 */
export const STUDENT_CANVAS_WINDOW = { left: 89.491 - 23.5 * 1.6, top: 92, pixelsPerCropPixel: 1.6 } as const;

function canvasToCrop([x, y]: Point): Point {
  const { left, top, pixelsPerCropPixel: k } = STUDENT_CANVAS_WINDOW;
  // Crop pixel i covers canvas [left + i*k, left + (i+1)*k): its centre is left + (i + 0.5)*k.
  return [(x - left) / k - 0.5, (y - top) / k - 0.5];
}

/** Where the student fit puts the eyes and the mouth centre in the 47x55 crop (window scale 1). */
export const STUDENT_TEMPLATE = {
  leftEye: canvasToCrop(CELEBA_TEMPLATE.leftEye),
  rightEye: canvasToCrop(CELEBA_TEMPLATE.rightEye),
  mouthCentre: canvasToCrop(CELEBA_TEMPLATE.mouthCentre),
} as const;

/**
 * The student's field of view: the window of STUDENT_CANVAS_WINDOW scaled by this factor about
 * the crop centre, at the same 47x55 resolution (> 1 shows more of the head, in coarser pixels).
 * The shipped student and the prepared caches use this value; a cache records the scale it was cut with
 * (prepare-data --window-scale), a student file the scale it was trained on (meta.distilled.windowScale),
 * and StudentNet cuts its crops at the file's scale.
 */
export const STUDENT_WINDOW_SCALE = 1.15;

/** The student template at window scale `windowScale`: STUDENT_TEMPLATE drawn towards the crop centre by 1/scale. */
export function studentTemplate(windowScale: number = STUDENT_WINDOW_SCALE): { leftEye: Point; rightEye: Point; mouthCentre: Point } {
  if (!(windowScale > 0) || !Number.isFinite(windowScale)) {
    throw new AlignmentError(`student window scale must be a finite number > 0, got ${windowScale}`);
  }
  // pixel centres at integers: the crop spans [-0.5, W - 0.5], its centre is (W - 1) / 2
  const cx = (STUDENT_CROP_WIDTH - 1) / 2;
  const cy = (STUDENT_CROP_HEIGHT - 1) / 2;
  const toward = ([x, y]: Point): Point => [cx + (x - cx) / windowScale, cy + (y - cy) / windowScale];
  const T = STUDENT_TEMPLATE;
  return { leftEye: toward(T.leftEye), rightEye: toward(T.rightEye), mouthCentre: toward(T.mouthCentre) };
}

/**
 * Crop-to-image transform for the student: CelebA's 3-point fit (eye centres, mouth-corner
 * midpoint) to the student template at `windowScale`. Accepts the 5 points of landmarks68To5 (the nose tip is not
 * used, as in CelebA: it moves with head yaw) or 68 iBUG landmarks.
 */
export function studentCropTransform(landmarks: readonly Point[], windowScale: number = STUDENT_WINDOW_SCALE): Similarity {
  const five = Array.isArray(landmarks) && landmarks.length === 68 ? landmarks68To5(landmarks) : landmarks;
  assertLandmarks(five, 5);
  const L = LANDMARKS_5;
  const mouth: Point = [
    (five[L.mouthLeft][0] + five[L.mouthRight][0]) / 2,
    (five[L.mouthLeft][1] + five[L.mouthRight][1]) / 2,
  ];
  const T = studentTemplate(windowScale);
  return fitSimilarity([T.leftEye, T.rightEye, T.mouthCentre], [five[L.leftEye], five[L.rightEye], mouth]);
}

/**
 * Where the teacher's chip lies in the student's crop (cut at `windowScale`) when both are fitted to dlib's mean face:
 * the chip-to-crop transform of an average face. It lets the teacher look at exactly the
 * student's pixels (eval-lfw --model teacher-on-crops), which bounds what the student's input holds.
 */
export function teacherChipInStudentCrop(windowScale: number = STUDENT_WINDOW_SCALE): Similarity {
  const meanFace: Point[] = Array.from({ length: 68 }, (_, i) => (i < 17 ? [0, 0] : dlibTemplatePoint(i)));
  return invertSimilarity(studentCropTransform(meanFace, windowScale));
}

/** The student's 47x55 crop (edge pixels replicated outside the image, as CelebA's alignment did). */
export function alignForStudent(img: RgbImage, landmarks: readonly Point[], windowScale: number = STUDENT_WINDOW_SCALE): AlignedFace {
  const chipToImage = studentCropTransform(landmarks, windowScale);
  const chip = warpSimilarity(img, chipToImage, STUDENT_CROP_WIDTH, STUDENT_CROP_HEIGHT, { border: 'replicate' });
  return { chip, chipToImage };
}
