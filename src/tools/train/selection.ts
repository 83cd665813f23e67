/**
 * Neuron selection (MobileID's idea): keep the teacher neurons that carry identity-related
 * information and drop those driven by factors that vary within a person.
 *
 * With face attributes, each neuron j gets, per attribute a, the correlation ratio
 *   eta2[a][j] = between-class variance / total variance of neuron j over the labelled faces
 * (Fisher's criterion normalised to [0, 1]: the share of the neuron's variance the attribute
 * explains). Attributes of the person (UTKFace: gender, race) are identity-related; attributes
 * that change over a person's life or photo (age) are nuisance. The score is
 *   score[j] = mean_{identity a} eta2[a][j] - nuisanceWeight * mean_{nuisance a} eta2[a][j]
 * and the K best-scoring neurons are kept (returned in increasing index order).
 */
import { TrainingError } from './errors.js';

/** Labels of one attribute over the samples: class index, or -1 where unknown. */
export interface Attribute {
  name: string;
  labels: Int32Array;
  kind: 'identity' | 'nuisance';
}

export interface NeuronScores {
  /** eta2 per attribute name, one value per neuron. */
  perAttribute: Record<string, Float64Array>;
  identity: Float64Array;
  nuisance: Float64Array;
  score: Float64Array;
}

/**
 * Share of each column's variance explained by the class labels (samples with label < 0 are
 * skipped; a constant column scores 0). `features` is samples x dims, row-major.
 */
export function correlationRatio(features: Float32Array, dims: number, labels: Int32Array): Float64Array {
  const samples = labels.length;
  if (features.length !== samples * dims) throw new TrainingError(`features have ${features.length} values, expected ${samples} x ${dims}`);
  const classes = labels.reduce((m, l) => Math.max(m, l + 1), 0);
  const counts = new Float64Array(classes);
  const sums = new Float64Array(classes * dims);
  const total = new Float64Array(dims);
  const totalSquares = new Float64Array(dims);
  let n = 0;
  for (let s = 0; s < samples; s++) {
    const label = labels[s];
    if (label < 0) continue;
    n++;
    counts[label]++;
    for (let j = 0; j < dims; j++) {
      const v = features[s * dims + j];
      sums[label * dims + j] += v;
      total[j] += v;
      totalSquares[j] += v * v;
    }
  }
  const ratio = new Float64Array(dims);
  if (n === 0) return ratio;
  for (let j = 0; j < dims; j++) {
    const mean = total[j] / n;
    const totalVariance = totalSquares[j] - n * mean * mean;
    if (!(totalVariance > 1e-12 * Math.max(1, totalSquares[j]))) continue;
    let between = 0;
    for (let c = 0; c < classes; c++) {
      if (counts[c] === 0) continue;
      const d = sums[c * dims + j] / counts[c] - mean;
      between += counts[c] * d * d;
    }
    ratio[j] = Math.min(1, between / totalVariance);
  }
  return ratio;
}

export function scoreNeurons(features: Float32Array, dims: number, attributes: Attribute[], nuisanceWeight = 1): NeuronScores {
  const identity = attributes.filter((a) => a.kind === 'identity');
  const nuisance = attributes.filter((a) => a.kind === 'nuisance');
  if (identity.length === 0) throw new TrainingError('neuron selection needs at least one identity-related attribute');
  const perAttribute: Record<string, Float64Array> = {};
  for (const a of attributes) perAttribute[a.name] = correlationRatio(features, dims, a.labels);
  const average = (group: Attribute[]) => {
    const out = new Float64Array(dims);
    for (const a of group) for (let j = 0; j < dims; j++) out[j] += perAttribute[a.name][j] / group.length;
    return out;
  };
  const identityScore = average(identity);
  const nuisanceScore = average(nuisance);
  const score = identityScore.map((v, j) => v - nuisanceWeight * nuisanceScore[j]);
  return { perAttribute, identity: identityScore, nuisance: nuisanceScore, score };
}

/** Indices of the k highest scores, in increasing index order (ties: lower index first). */
export function selectTop(score: Float64Array, k: number): number[] {
  if (!Number.isInteger(k) || k < 1 || k > score.length) throw new TrainingError(`k must be an integer in 1..${score.length}, got ${k}`);
  const order = Array.from(score, (_, j) => j).sort((a, b) => score[b] - score[a] || a - b);
  return order.slice(0, k).sort((a, b) => a - b);
}

/** UTKFace attributes from a key / file name "<age>_<gender>_<race>_<date>[.jpg]"; null if malformed. */
export function parseUtkFaceKey(key: string): { age: number; gender: number; race: number } | null {
  const base = key.split('/').pop()!;
  const match = /^(\d{1,3})_([01])_([0-4])_\d+/.exec(base);
  if (!match) return null;
  const age = Number(match[1]);
  if (age > 120) return null;
  return { age, gender: Number(match[2]), race: Number(match[3]) };
}

/** Age groups (lower bounds, years) used as nuisance classes. */
export const AGE_GROUPS = [0, 13, 20, 30, 40, 50, 60, 70];

export function ageGroup(age: number): number {
  let group = 0;
  while (group + 1 < AGE_GROUPS.length && age >= AGE_GROUPS[group + 1]) group++;
  return group;
}

/** Gender and race (identity) and age group (nuisance) labels for UTKFace keys (-1 if malformed). */
export function utkFaceAttributes(keys: string[]): Attribute[] {
  const parsed = keys.map(parseUtkFaceKey);
  const labels = (pick: (a: { age: number; gender: number; race: number }) => number) => Int32Array.from(parsed, (a) => (a ? pick(a) : -1));
  return [
    { name: 'gender', kind: 'identity', labels: labels((a) => a.gender) },
    { name: 'race', kind: 'identity', labels: labels((a) => a.race) },
    { name: 'age', kind: 'nuisance', labels: labels((a) => ageGroup(a.age)) },
  ];
}
