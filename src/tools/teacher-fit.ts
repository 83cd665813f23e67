/**
 * How closely a student copies its teacher on a prepared cache, in two senses that need not agree:
 * the fit of its embedding to the teacher's descriptor (what distillation minimises: R^2 and the
 * mean Euclidean residual, in the teacher's units) and how well it separates faces the way the
 * teacher does (distances of same-identity pairs against pairs of different identities: their
 * correlation with the teacher's distances and the separation d' = (mean_diff - mean_same) /
 * sqrt((sd_same^2 + sd_diff^2) / 2)). On LFW, where one verification test has a standard error of
 * about 0.25 points, these read every image of the set, not 6,000 pairs. Where identity-labelled
 * features of the teacher are given (outside the measured set, e.g. the CelebA identity set), the
 * fit is also read along the teacher's discriminant directions (Fisher's LDA: the between-identity
 * covariance in the metric that makes one person's faces vary equally in every direction),
 * strongest first: a student can fit the descriptor's large directions well and the quiet ones
 * that tell people apart badly.
 */
import { covarianceOfRows, matMul, symmetricEigen, transpose, withinGroupCovariance } from '../math/linalg.js';
import { mean } from '../math/stats.js';
import { seededRandom } from '../math/random.js';
import { MobileIdError } from '../errors.js';
import { combine } from './eval-lfw.js';
import { personOfKey } from './lfw.js';

/** Plain and mirrored features of one image. */
export type ViewPair = readonly [Float32Array, Float32Array];

/** The features cannot be compared: too few shared images, different sizes, keys without identity folders. */
export class TeacherFitError extends MobileIdError {
  override name = 'TeacherFitError';
}

export interface Separation {
  pairs: number;
  /** Pearson correlation of the student's pair distances with the teacher's. */
  correlation: number;
  /** Mean and standard deviation of the student's cosine distance (1 - cos) over the pairs. */
  mean: number;
  sd: number;
}

export interface TeacherFit {
  images: number;
  /** 1 - residual / variance of the teacher's descriptor, both views. */
  r2: number;
  /** Mean |student - teacher| over both views, in the teacher's units. */
  residual: number;
  same: Separation;
  different: Separation;
  /** Separation of same-identity from different-identity pairs (mirror-averaged features, cosine distance). */
  dPrime: number;
}

/** Same-identity pairs (keys `<identity>/<file>`, each image with up to `perImage` later images of its identity) and as many seeded random pairs of different identities. */
export function identityPairs(keys: readonly string[], perImage = 3, seed = 1): { same: [string, string][]; different: [string, string][] } {
  const byIdentity = new Map<string, string[]>();
  for (const key of keys) {
    if (!(key.indexOf('/') > 0)) throw new TeacherFitError(`key ${key} is not <identity>/<file>: the cache has no identity folders`);
    const identity = personOfKey(key);
    byIdentity.set(identity, [...(byIdentity.get(identity) ?? []), key]);
  }
  if (byIdentity.size < 2) throw new TeacherFitError(`${byIdentity.size} identity folder(s): pairs of different identities need two`);
  const same: [string, string][] = [];
  for (const group of byIdentity.values()) {
    for (let i = 0; i < group.length; i++) for (let j = i + 1; j <= i + perImage && j < group.length; j++) same.push([group[i], group[j]]);
  }
  if (same.length === 0) throw new TeacherFitError('no identity has two images: same-identity pairs need them');
  const random = seededRandom(seed);
  const pick = () => keys[Math.floor(random() * keys.length)];
  const different: [string, string][] = [];
  while (different.length < same.length) {
    const a = pick(), b = pick();
    if (personOfKey(a) !== personOfKey(b)) different.push([a, b]);
  }
  return { same, different };
}

/** The student's fit to the teacher and its separation of identities, over the images both hold. */
export function measureTeacherFit(teacher: ReadonlyMap<string, ViewPair>, student: ReadonlyMap<string, ViewPair>): TeacherFit {
  const keys = [...teacher.keys()].filter((k) => student.has(k));
  if (keys.length < 2) throw new TeacherFitError(`${keys.length} image(s) with both teacher and student features: nothing to measure`);
  const dim = teacher.get(keys[0])![0].length;
  if (student.get(keys[0])![0].length !== dim) throw new TeacherFitError(`student features have ${student.get(keys[0])![0].length} values, the teacher's ${dim}: not the same space`);
  const centre = new Float64Array(dim);
  for (const key of keys) for (const view of teacher.get(key)!) for (let j = 0; j < dim; j++) centre[j] += view[j] / (2 * keys.length);
  let variance = 0, squared = 0, distance = 0;
  for (const key of keys) {
    const t = teacher.get(key)!, s = student.get(key)!;
    for (const v of [0, 1]) {
      let d = 0;
      for (let j = 0; j < dim; j++) {
        d += (s[v][j] - t[v][j]) ** 2;
        variance += (t[v][j] - centre[j]) ** 2;
      }
      squared += d;
      distance += Math.sqrt(d);
    }
  }
  const t = mirrorAveraged(teacher, keys), s = mirrorAveraged(student, keys);
  const { same, different } = identityPairs(keys);
  const separation = (pairs: [string, string][]): Separation => {
    const ds = pairs.map(([a, b]) => cosineDistance(s.get(a)!, s.get(b)!));
    const dt = pairs.map(([a, b]) => cosineDistance(t.get(a)!, t.get(b)!));
    const m = mean(ds);
    return { pairs: pairs.length, correlation: pearson(ds, dt), mean: m, sd: Math.sqrt(mean(ds.map((d) => (d - m) ** 2))) };
  };
  const sameRow = separation(same), differentRow = separation(different);
  return {
    images: keys.length,
    r2: 1 - squared / variance,
    residual: distance / (2 * keys.length),
    same: sameRow,
    different: differentRow,
    dPrime: (differentRow.mean - sameRow.mean) / Math.sqrt((sameRow.sd ** 2 + differentRow.sd ** 2) / 2),
  };
}

/** Each key's plain and mirrored features averaged (eval-lfw's --mirror). */
function mirrorAveraged(features: ReadonlyMap<string, ViewPair>, keys: readonly string[]): Map<string, Float32Array> {
  return new Map(keys.map((key) => [key, combine(features.get(key)! as [Float32Array, Float32Array], true, 'average')]));
}

function variance(values: readonly number[]): number {
  const m = mean(values);
  return mean(values.map((v) => (v - m) ** 2));
}

function cosineDistance(a: Float32Array, b: Float32Array): number {
  let dot = 0, aa = 0, bb = 0;
  for (let j = 0; j < a.length; j++) {
    dot += a[j] * b[j];
    aa += a[j] * a[j];
    bb += b[j] * b[j];
  }
  return 1 - dot / Math.sqrt(aa * bb);
}

function pearson(x: readonly number[], y: readonly number[]): number {
  const mx = mean(x), my = mean(y);
  let xy = 0, xx = 0, yy = 0;
  for (let i = 0; i < x.length; i++) {
    xy += (x[i] - mx) * (y[i] - my);
    xx += (x[i] - mx) ** 2;
    yy += (y[i] - my) ** 2;
  }
  return xy / Math.sqrt(xx * yy);
}

export interface DiscriminantDirections {
  /** Each a descriptor-space vector, strongest first. */
  directions: Float64Array[];
  /** Between- over within-identity variance along each direction. */
  ratios: number[];
}

/** Fisher's discriminant directions of identity-keyed (<identity>/<file>) features; identities with one image are left out. */
export function discriminantDirections(features: ReadonlyMap<string, Float32Array>): DiscriminantDirections {
  const groups = new Map<string, Float32Array[]>();
  for (const [key, v] of features) {
    if (!(key.indexOf('/') > 0)) throw new TeacherFitError(`key ${key} is not <identity>/<file>: the identity set has no identity folders`);
    const identity = personOfKey(key);
    groups.set(identity, [...(groups.get(identity) ?? []), v]);
  }
  const dim = features.values().next().value?.length ?? 0;
  const { covariance: within, centres, degrees } = withinGroupCovariance([...groups.values()], dim);
  if (centres.length < 2 || degrees < dim) throw new TeacherFitError(`${centres.length} identities with two or more images (${degrees} degrees of freedom) cannot fit ${dim}-d discriminant directions`);
  const between = covarianceOfRows(Float64Array.from(centres.flatMap((c) => Array.from(c))), centres.length, dim);
  // whiten by the within-identity covariance (W = Lambda^-1/2 U^T), then the between-identity axes
  const w = symmetricEigen(within, dim);
  const floor = 1e-9 * w.values.reduce((a, v) => a + Math.abs(v), 0) / dim;
  const whiten = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) whiten[i * dim + j] = w.vectors[j * dim + i] / Math.sqrt(Math.max(w.values[i], floor));
  const whitened = matMul(matMul(whiten, between, dim, dim, dim), transpose(whiten, dim, dim), dim, dim, dim);
  const b = symmetricEigen(whitened, dim);
  const order = [...Array(dim).keys()].sort((x, y) => b.values[y] - b.values[x]);
  const directions = order.map((k) => {
    const d = new Float64Array(dim);
    for (let j = 0; j < dim; j++) for (let a = 0; a < dim; a++) d[j] += whiten[a * dim + j] * b.vectors[a * dim + k];
    return d;
  });
  return { directions, ratios: order.map((k) => b.values[k]) };
}

/**
 * The student's R^2 to the teacher along each direction, over the images both hold
 * (mirror-averaged features): 1 - variance of the residual / variance of the teacher's projection.
 * The residual is centred: an offset common to all faces cancels in every distance between two.
 */
export function r2AlongDirections(teacher: ReadonlyMap<string, ViewPair>, student: ReadonlyMap<string, ViewPair>, directions: readonly Float64Array[]): number[] {
  const keys = [...teacher.keys()].filter((k) => student.has(k));
  if (keys.length < 2) throw new TeacherFitError(`${keys.length} image(s) with both teacher and student features: nothing to measure`);
  const [t, s] = [teacher, student].map((features) => mirrorAveraged(features, keys));
  const project = (features: Map<string, Float32Array>, d: Float64Array) => keys.map((key) => {
    const v = features.get(key)!;
    let sum = 0;
    for (let j = 0; j < d.length; j++) sum += d[j] * v[j];
    return sum;
  });
  return directions.map((d) => {
    const fromTeacher = project(t, d);
    const residual = project(s, d).map((v, i) => v - fromTeacher[i]);
    return 1 - variance(residual) / variance(fromTeacher);
  });
}
