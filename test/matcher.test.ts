/**
 * FaceMatcher: enrolment of several embeddings per person, the best person or 'unknown' at the
 * threshold, top-k against a brute-force reference, save/load refusing other models, wrong
 * lengths and NaN, and the recognizer's matchers (the model's rule and identity) on the sample photos.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, modelFingerprint } from '../src/engine/model-format.js';
import { FaceRecognizer } from '../src/face/recognizer.js';
import { initWeights, studentGraph } from '../src/face/student-graph.js';
import { FeatureDimensionError, ModelMismatchError, VerifierFormatError, VerifierInputError } from '../src/verify/errors.js';
import { FaceMatcher, UNKNOWN, type MatchMetric, type ModelIdentity } from '../src/verify/matcher.js';
import { createVerifier } from '../src/verify/verifier.js';
import { seededRandom } from '../src/math/random.js';

const MODEL: ModelIdentity = { name: 'test-model', fingerprint: '0000abcd', dimension: 8 };
const OTHER: ModelIdentity = { name: 'test-model', fingerprint: '1111abcd', dimension: 8 };

function randomVectors(count: number, dim: number, seed: number): Float32Array[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: dim }, () => random() * 2 - 1));
}

const near = (v: Float32Array, amount: number, seed: number) => {
  const random = seededRandom(seed);
  return v.map((x) => x + (random() * 2 - 1) * amount);
};

describe('FaceMatcher', () => {
  for (const metric of ['euclidean', 'cosine'] as MatchMetric[]) {
    it(`${metric}: top-k equals a brute-force ranking by each person's best score`, () => {
      const vectors = randomVectors(60, 8, 1);
      const matcher = new FaceMatcher({ model: MODEL, metric, threshold: null, mirror: false });
      const people = ['a', 'b', 'c', 'd', 'e', 'f'];
      vectors.forEach((v, i) => matcher.enroll(people[i % people.length], v));
      expect(matcher.size).toBe(60);
      expect(matcher.labels).toEqual(people);
      const verifier = createVerifier(metric);
      for (const query of randomVectors(5, 8, 2)) {
        const expected = people
          .map((label) => ({ label, score: Math.max(...vectors.filter((_, i) => people[i % people.length] === label).map((v) => verifier.score(v, query))) }))
          .sort((x, y) => y.score - x.score);
        const got = matcher.topK(query, 4);
        expect(got.map((c) => c.label)).toEqual(expected.slice(0, 4).map((c) => c.label));
        got.forEach((c, i) => expect(c.score).toBeCloseTo(expected[i].score, 5));
      }
    });
  }

  it('matches the enrolled person above the threshold and answers unknown below it', () => {
    const [ada, bob, stranger] = randomVectors(3, 8, 3);
    const matcher = new FaceMatcher({ model: MODEL, metric: 'euclidean', threshold: -0.5, mirror: false });
    matcher.enroll('Ada', [ada, near(ada, 0.05, 4)]);
    matcher.enroll('Bob', bob);
    const hit = matcher.match(near(ada, 0.05, 5));
    expect(hit).toMatchObject({ label: 'Ada', known: true, threshold: -0.5 });
    expect(hit.score!).toBeGreaterThan(-0.5);
    const miss = matcher.match(stranger);
    expect(miss.label).toBe(UNKNOWN);
    expect(miss.known).toBe(false);
    expect(miss.nearest?.label).toMatch(/Ada|Bob/);
    expect(miss.score!).toBeLessThan(-0.5);
    // an explicit threshold overrides the matcher's; null means no decision
    expect(matcher.match(stranger, { threshold: -100 }).known).toBe(true);
    expect(matcher.match(near(ada, 0.05, 5), { threshold: null }).label).toBe(UNKNOWN);
  });

  it('nobody enrolled: unknown, no score', () => {
    const matcher = new FaceMatcher({ model: MODEL, metric: 'cosine', threshold: 0.5, mirror: false });
    expect(matcher.match(randomVectors(1, 8, 6)[0])).toEqual({ label: UNKNOWN, known: false, score: null, threshold: 0.5, nearest: null });
  });

  it('remove() drops a person and keeps the others matchable', () => {
    const vectors = randomVectors(4, 8, 7);
    const matcher = new FaceMatcher({ model: MODEL, metric: 'euclidean', threshold: -0.1, mirror: false });
    vectors.forEach((v, i) => matcher.enroll(`p${i}`, v));
    expect(matcher.remove('p1')).toBe(true);
    expect(matcher.remove('p1')).toBe(false);
    expect(matcher.labels).toEqual(['p0', 'p2', 'p3']);
    expect(matcher.size).toBe(3);
    for (const i of [0, 2, 3]) expect(matcher.match(vectors[i]).label).toBe(`p${i}`);
  });

  it('refuses wrong lengths, NaN, the label unknown and embeddings of another model, enrolling nothing', () => {
    const matcher = new FaceMatcher({ model: MODEL, metric: 'euclidean', threshold: -0.5, mirror: false });
    const good = randomVectors(1, 8, 8)[0];
    const nan = good.slice();
    nan[3] = NaN;
    expect(() => matcher.enroll('x', [good, new Float32Array(7)])).toThrow(FeatureDimensionError);
    expect(() => matcher.enroll('x', [good, nan])).toThrow(VerifierInputError);
    expect(() => matcher.enroll(UNKNOWN, good)).toThrow(VerifierInputError);
    expect(() => matcher.enroll('', good)).toThrow(VerifierInputError);
    expect(() => matcher.enroll('x', { embedding: good, model: OTHER })).toThrow(ModelMismatchError);
    expect(() => matcher.match(new Float32Array(9))).toThrow(FeatureDimensionError);
    expect(() => matcher.match({ embedding: good, model: OTHER })).toThrow(ModelMismatchError);
    expect(matcher.size).toBe(0);
    matcher.enroll('x', { embedding: good, model: MODEL });
    expect(matcher.match(good).label).toBe('x');
  });

  it('saves and loads: same answers; another model, a wrong length or NaN in the file is refused', () => {
    const vectors = randomVectors(10, 8, 9);
    const matcher = new FaceMatcher({ model: MODEL, metric: 'cosine', threshold: 0.8, mirror: true });
    vectors.forEach((v, i) => matcher.enroll(`p${i % 3}`, v));
    const text = JSON.stringify(matcher);
    const loaded = FaceMatcher.fromJSON(JSON.parse(text), MODEL);
    expect(loaded.labels).toEqual(matcher.labels);
    expect(loaded).toMatchObject({ metric: 'cosine', threshold: 0.8, mirror: true, size: 10 });
    for (const query of randomVectors(3, 8, 10)) expect(loaded.topK(query, 3)).toEqual(matcher.topK(query, 3));

    expect(() => FaceMatcher.fromJSON(JSON.parse(text), OTHER)).toThrow(ModelMismatchError);
    expect(() => FaceMatcher.fromJSON({ hello: 1 }, MODEL)).toThrow(VerifierFormatError);
    expect(() => FaceMatcher.fromJSON({ ...JSON.parse(text), version: 2 }, MODEL)).toThrow(VerifierFormatError);
    const short = JSON.parse(text);
    short.people[0].embeddings[0].pop();
    expect(() => FaceMatcher.fromJSON(short, MODEL)).toThrow(FeatureDimensionError);
    const withNaN = JSON.parse(text.replace(/\[(-?[\d.e-]+),/, '[null,'));
    expect(() => FaceMatcher.fromJSON(withNaN, MODEL)).toThrow(VerifierInputError);
  });
});

describe('modelFingerprint', () => {
  it('ignores meta (notes, the verification rule) and changes with the weights', () => {
    const graph = studentGraph();
    const weights = initWeights(graph, 7);
    const a = modelFingerprint(decodeModel(encodeModel({ ...graph, meta: { note: 1 } }, weights)));
    const b = modelFingerprint(decodeModel(encodeModel({ ...graph, meta: { verification: { verifier: 'cosine', threshold: 0.5 } } }, weights)));
    const c = modelFingerprint(decodeModel(encodeModel(graph, initWeights(graph, 8))));
    expect(a).toMatch(/^[0-9a-f]{8}$/);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });
});

describe('the recognizer\'s matchers (shipped student, sample photos)', () => {
  const sample = (name: string) => new Uint8Array(readFileSync(fileURLToPath(new URL(`../demo/samples/${name}`, import.meta.url))));
  let recognizer: FaceRecognizer;
  beforeAll(async () => {
    recognizer = await FaceRecognizer.create();
  }, 60_000);
  afterAll(() => recognizer?.dispose());

  it('uses the model\'s identity and verification rule, like verify()', () => {
    const matcher = recognizer.createMatcher();
    const rule = recognizer.verification!;
    expect(matcher).toMatchObject({ metric: rule.verifier, threshold: rule.threshold, mirror: rule.mirror, model: recognizer.model });
    expect(recognizer.createMatcher({ threshold: -0.2 }).threshold).toBe(-0.2);
  });

  it('identifies a.jpg\'s variant as the person enrolled from a.jpg, and b.jpg as unknown; scores equal verify()\'s', () => {
    const matcher = recognizer.createMatcher();
    const embed = (name: string) => recognizer.embedLargestFace(sample(name), { mirror: matcher.mirror })!;
    matcher.enroll('A', embed('a.jpg'));
    const variant = matcher.match(embed('a-variant.jpg'));
    expect(variant).toMatchObject({ label: 'A', known: true });
    expect(variant.score!).toBeCloseTo(recognizer.verify(sample('a.jpg'), sample('a-variant.jpg')).score!, 5);
    const other = matcher.match(embed('b.jpg'));
    expect(other.label).toBe(UNKNOWN);
    expect(other.score!).toBeCloseTo(recognizer.verify(sample('a.jpg'), sample('b.jpg')).score!, 5);

    const reloaded = recognizer.loadMatcher(JSON.parse(JSON.stringify(matcher)));
    expect(reloaded.match(embed('a-variant.jpg')).label).toBe('A');
    const foreign = { ...JSON.parse(JSON.stringify(matcher)), model: { ...recognizer.model!, fingerprint: 'ffffffff' } };
    expect(() => recognizer.loadMatcher(foreign)).toThrow(ModelMismatchError);
  }, 60_000);
});
