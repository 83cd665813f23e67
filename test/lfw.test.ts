import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { STUDENT_WINDOW_SCALE } from '../src/face/align.js';
import { seededRandom } from '../src/math/random.js';
import { CROP_BYTES, writeChunk } from '../src/tools/data/cache.js';
import { loadFeatures } from '../src/tools/eval-lfw.js';
import { LfwDataError, evaluateLfw, lfwImagePath, personOfKey, readLfwImageIndex, type LfwProgress } from '../src/tools/lfw.js';
import { PairListFormatError, PairScoresError, bestThreshold, imageKey, parsePairs, rocCurve } from '../src/verify/pairs.js';
import { createVerifier, type Verifier, type VerifierKind } from '../src/verify/verifier.js';

const LFW = '../shared/data/lfw';

/**
 * A small View 2 look-alike: per fold, `perClass` same-person pairs (person `F<f>_Same_<j>`,
 * images 1 and 2 of 3) and `perClass` different-person pairs (`F<f>_DiffA_<j>` image 1 vs
 * `F<f>_DiffB_<j>` image 1, 2 images each), plus a person who is in no pair.
 */
function syntheticLfw(folds = 10, perClass = 4) {
  const lines = [`${folds}\t${perClass}`];
  const imagesByPerson = new Map<string, string[]>();
  const addPerson = (person: string, images: number): void => {
    imagesByPerson.set(person, Array.from({ length: images }, (_, i) => imageKey(person, i + 1)));
  };
  for (let f = 0; f < folds; f++) {
    for (let j = 0; j < perClass; j++) {
      lines.push(`F${f}_Same_${j}\t1\t2`);
      addPerson(`F${f}_Same_${j}`, 3);
    }
    for (let j = 0; j < perClass; j++) {
      lines.push(`F${f}_DiffA_${j}\t1\tF${f}_DiffB_${j}\t1`);
      addPerson(`F${f}_DiffA_${j}`, 2);
      addPerson(`F${f}_DiffB_${j}`, 2);
    }
  }
  addPerson('Outsider_Person', 2);
  return { text: lines.join('\n') + '\n', pairs: parsePairs(lines.join('\n')), imagesByPerson };
}

/** A 1-d feature per image: its position in a list of all keys. */
function keyIds(imagesByPerson: Map<string, string[]>) {
  const keys = [...imagesByPerson.values()].flat();
  const id = new Map(keys.map((k, i) => [k, i]));
  return { keys, feature: (key: string) => Float32Array.of(id.get(key)!) };
}

/** Wraps a real verifier and records every fit: the image keys and labels it saw. */
function spyingVerifier(kind: VerifierKind, keys: string[], fits: { keys: string[]; labels: number[] }[]) {
  return (): Verifier => {
    const inner = createVerifier(kind);
    return {
      name: inner.name,
      fit(rows, count, dim, labels) {
        fits.push({ keys: Array.from({ length: count }, (_, r) => keys[rows[r * dim]]), labels: Array.from(labels) });
        inner.fit(rows, count, dim, labels);
      },
      embed: (x) => inner.embed(x),
      compare: (a, b) => inner.compare(a, b),
      score: (a, b) => inner.score(a, b),
    };
  };
}

/**
 * Remembers the label of every fitted row and scores 1 for two remembered rows with the same
 * label, else 0. Fitted honestly it knows nothing about a test fold (every test pair scores 0,
 * accuracy 50%); fitted on the test fold's people it would score 100%.
 */
function memorisingVerifier(): Verifier {
  const labelOf = new Map<number, number>();
  const compare = (a: Float32Array, b: Float32Array): number => {
    const la = labelOf.get(a[0]);
    return la !== undefined && la === labelOf.get(b[0]) ? 1 : 0;
  };
  return {
    name: 'cosine',
    fit(rows, count, dim, labels) {
      for (let r = 0; r < count; r++) labelOf.set(rows[r * dim], labels[r]);
    },
    embed: (x) => x,
    compare,
    score: compare,
  };
}

describe('evaluateLfw: no test-fold leakage', () => {
  it('fits each fold on exactly the other folds\' people, all their images, one label per person', async () => {
    const lfw = syntheticLfw();
    const { keys, feature } = keyIds(lfw.imagesByPerson);
    const fits: { keys: string[]; labels: number[] }[] = [];
    await evaluateLfw({ ...lfw, feature, verifier: spyingVerifier('euclidean', keys, fits) });
    expect(fits).toHaveLength(10);
    fits.forEach((fit, fold) => {
      const expected = [...lfw.imagesByPerson.entries()]
        .filter(([person]) => person !== 'Outsider_Person' && !person.startsWith(`F${fold}_`))
        .flatMap(([, images]) => images);
      expect([...fit.keys].sort()).toEqual([...expected].sort());
      expect(fit.keys.some((k) => k.startsWith(`F${fold}_`))).toBe(false);
      const labelOf = new Map<string, number>();
      fit.keys.forEach((k, r) => {
        const person = personOfKey(k);
        expect(labelOf.get(person) ?? fit.labels[r]).toBe(fit.labels[r]);
        labelOf.set(person, fit.labels[r]);
      });
      expect(new Set(labelOf.values()).size).toBe(labelOf.size);
    });
  });

  it('with outside data, fits every fold on the outside identities only', async () => {
    const lfw = syntheticLfw();
    const outsideImages = new Map([['00001', ['00001/a', '00001/b']], ['00002', ['00002/c', '00002/d', '00002/e']]]);
    const all = keyIds(new Map([...lfw.imagesByPerson, ...outsideImages]));
    const fits: { keys: string[]; labels: number[] }[] = [];
    await evaluateLfw({
      ...lfw, feature: all.feature, verifier: spyingVerifier('euclidean', all.keys, fits),
      outsideData: { imagesByPerson: outsideImages, feature: all.feature },
    });
    expect(fits).toHaveLength(10);
    for (const fit of fits) {
      expect([...fit.keys].sort()).toEqual(['00001/a', '00001/b', '00002/c', '00002/d', '00002/e']);
      expect(fit.labels).toEqual([0, 0, 1, 1, 1]);
    }
  });

  it('a verifier that memorises its training identities learns nothing about the test fold', async () => {
    const lfw = syntheticLfw();
    const { feature } = keyIds(lfw.imagesByPerson);
    const result = await evaluateLfw({ ...lfw, feature, verifier: memorisingVerifier });
    expect(result.folds).toEqual(Array(10).fill(0.5));
    expect(result.thresholds).toEqual(Array(10).fill(0.5));
  });

  it('chooses each threshold on the other folds only', async () => {
    // Euclidean scores: same pairs at distance 0 and different pairs at 1, except in fold 0
    // (same 0.7, different 0.9). Fold 0's own best threshold (-0.8) would score 100% there;
    // the other folds' threshold (-0.5) calls all of fold 0 "different": 50%.
    const lfw = syntheticLfw();
    const value = new Map<string, number>();
    lfw.pairs.pairs.forEach((p, i) => {
      const distance = p.fold === 0 ? (p.same ? 0.7 : 0.9) : p.same ? 0 : 1;
      value.set(p.a, 10 * i);
      value.set(p.b, 10 * i + distance);
    });
    const result = await evaluateLfw({
      ...lfw,
      feature: (key) => Float32Array.of(value.get(key) ?? -1),
      verifier: () => createVerifier('euclidean'),
    });
    expect(result.folds).toEqual([0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(result.thresholds[0]).toBeCloseTo(-0.5, 6);
    for (let f = 1; f < 10; f++) expect(result.thresholds[f]).toBeCloseTo(-0.8, 4); // float32 features
    expect(result.accuracyMean).toBeCloseTo(0.95, 12);
    // Sample std of [0.5, 1 x 9] is sqrt(0.025); / sqrt(10) = 0.05.
    expect(result.accuracySe).toBeCloseTo(0.05, 12);
    // Held-out scores: same pairs -0.7 or 0, different pairs -0.9 or -1: the AUC is 1.
    expect(result.auc).toBe(1);
    expect(result.scores[0]).toBeCloseTo(-0.7, 5);
  });

  it('reports progress for features and folds', async () => {
    const lfw = syntheticLfw(3, 2);
    const { feature } = keyIds(lfw.imagesByPerson);
    const events: LfwProgress[] = [];
    await evaluateLfw({ ...lfw, feature, verifier: () => createVerifier('cosine'), onProgress: (p) => events.push(p) });
    const features = events.filter((e) => e.stage === 'features');
    // Per fold 2 same-pair people x 3 images + 4 different-pair people x 2 images.
    expect(features.at(-1)).toEqual({ stage: 'features', done: 42, total: 42 });
    expect(events.filter((e) => e.stage === 'fold').map((e) => (e.stage === 'fold' ? e.fold : -1))).toEqual([0, 1, 2]);
  });
});

describe('evaluateLfw: inconsistent data', () => {
  const lfw = syntheticLfw(2, 1);
  const { feature } = keyIds(lfw.imagesByPerson);
  const verifier = () => createVerifier('cosine');

  it('a person or image missing from the image lists', async () => {
    const missingPerson = new Map(lfw.imagesByPerson);
    missingPerson.delete('F1_Same_0');
    await expect(evaluateLfw({ ...lfw, imagesByPerson: missingPerson, feature, verifier })).rejects.toThrow(
      LfwDataError,
    );
    const missingImage = new Map(lfw.imagesByPerson);
    missingImage.set('F1_Same_0', [imageKey('F1_Same_0', 1)]);
    await expect(evaluateLfw({ ...lfw, imagesByPerson: missingImage, feature, verifier })).rejects.toThrow(
      /F1_Same_0_0002/,
    );
  });

  it('features of different sizes', async () => {
    let calls = 0;
    const ragged = (): Float32Array => new Float32Array(calls++ === 3 ? 2 : 3);
    await expect(evaluateLfw({ ...lfw, feature: ragged, verifier })).rejects.toThrow(LfwDataError);
  });

  it('folds that share a person', async () => {
    const text = '2 1\nAnn 1 2\nAnn 1 Bob 1\nCid 1 2\nBob 1 Dan 1\n';
    const imagesByPerson = new Map(['Ann', 'Bob', 'Cid', 'Dan'].map((p) => [p, [imageKey(p, 1), imageKey(p, 2)]]));
    await expect(evaluateLfw({ pairs: parsePairs(text), imagesByPerson, feature, verifier })).rejects.toThrow(
      /person-disjoint/,
    );
  });
});

describe('parsePairs', () => {
  it('reads folds, same and different pairs as image keys', () => {
    const { pairs } = syntheticLfw(2, 1);
    expect(pairs.folds).toBe(2);
    expect(pairs.pairsPerClass).toBe(1);
    expect(pairs.pairs[0]).toEqual({ fold: 0, same: true, a: 'F0_Same_0/F0_Same_0_0001', b: 'F0_Same_0/F0_Same_0_0002' });
    expect(pairs.pairs[3]).toEqual({ fold: 1, same: false, a: 'F1_DiffA_0/F1_DiffA_0_0001', b: 'F1_DiffB_0/F1_DiffB_0_0001' });
    expect(imageKey('Zico', 123)).toBe('Zico/Zico_0123');
  });

  it.each([
    ['', /header/],
    ['10\n', /header/],
    ['2 x\n', /header/],
    ['1 1\nAnn 1 2\n', /1 pair lines/],
    ['1 1\nAnn 1 2\nBob 1 Cid 1\nDan 1 2\n', /3 pair lines/],
    ['1 1\nAnn 1\nBob 1 Cid 1\n', /line 2.*same-person/],
    ['1 1\nAnn 1 2\nBob 1 Cid\n', /line 3.*different-person/],
    ['1 1\nAnn 1 two\nBob 1 Cid 1\n', /'two' is not an image number/],
    ['1 1\nAnn 0 2\nBob 1 Cid 1\n', /'0' is not an image number/],
    ['1 1\nAnn 1 2\nBob 1 Bob 2\n', /one person/],
  ])('rejects %j', (text, message) => {
    expect(() => parsePairs(text)).toThrow(PairListFormatError);
    expect(() => parsePairs(text)).toThrow(message);
  });
});

describe('bestThreshold and rocCurve', () => {
  it('maximises accuracy with a midpoint threshold', () => {
    const { threshold, accuracy } = bestThreshold([0.1, 0.4, 0.35, 0.8, 0.9], [false, false, true, true, true]);
    // Sorted: 0.1 d, 0.35 s, 0.4 d, 0.8 s, 0.9 s -> best 4/5 between 0.4 and 0.8 (first of ties).
    expect(accuracy).toBe(0.8);
    expect(threshold).toBeCloseTo(0.225, 12);
  });

  it('handles tied scores as one step', () => {
    const { threshold, accuracy } = bestThreshold([1, 1, 2, 2], [false, true, true, true]);
    expect(accuracy).toBe(0.75);
    expect(threshold).toBe(0);
  });

  it('AUC: perfect, reversed, tied; ROC runs from (0,0) to (1,1)', () => {
    expect(rocCurve([1, 2, 3, 4], [false, false, true, true]).auc).toBe(1);
    expect(rocCurve([1, 2, 3, 4], [true, true, false, false]).auc).toBe(0);
    expect(rocCurve([5, 5, 5, 5], [true, false, true, false]).auc).toBe(0.5);
    const { auc, roc } = rocCurve([0.2, 0.6, 0.4, 0.8], [false, false, true, true]);
    // Pairs (same, different) ranked correctly: (0.4>0.2), (0.8>0.2), (0.8>0.6) = 3 of 4.
    expect(auc).toBe(0.75);
    expect(roc).toEqual([
      [0, 0],
      [0, 0.5],
      [0.5, 0.5],
      [0.5, 1],
      [1, 1],
    ]);
    expect(() => rocCurve([1, 2], [true, true])).toThrow(PairScoresError);
  });
});

describe.skipIf(!existsSync(`${LFW}/pairs.txt`))('real LFW View 2 files (../shared/data/lfw)', () => {
  it('pairs.txt: 10 person-disjoint folds of 300 + 300 pairs, all images on disk', async () => {
    const pairs = parsePairs(readFileSync(`${LFW}/pairs.txt`, 'utf8'));
    expect(pairs.folds).toBe(10);
    expect(pairs.pairs).toHaveLength(6000);
    const index = await readLfwImageIndex(`${LFW}/images`);
    expect(index.size).toBe(5749);
    expect([...index.values()].reduce((n, k) => n + k.length, 0)).toBe(13233);
    expect(index.get('George_W_Bush')).toHaveLength(530);
    expect(index.get('Abel_Pacheco')?.[3]).toBe('Abel_Pacheco/Abel_Pacheco_0004');
    expect(existsSync(lfwImagePath(`${LFW}/images`, pairs.pairs[0].a))).toBe(true);

    // The whole protocol on the real files, with a spy: no fold's people in its own fit.
    const { keys, feature } = keyIds(index);
    const fits: { keys: string[]; labels: number[] }[] = [];
    const result = await evaluateLfw({ pairs, imagesByPerson: index, feature, verifier: spyingVerifier('euclidean', keys, fits) });
    expect(result.folds).toHaveLength(10);
    fits.forEach((fit, fold) => {
      const fitted = new Set(fit.keys.map(personOfKey));
      for (const p of pairs.pairs.filter((q) => q.fold === fold)) {
        expect(fitted.has(personOfKey(p.a))).toBe(false);
        expect(fitted.has(personOfKey(p.b))).toBe(false);
      }
    });
  });
});

describe('eval-lfw --model A,B: an ensemble of student files', () => {
  it("averages each image's plain and mirrored features over the files", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mobileid-ensemble-'));
    try {
      const random = seededRandom(7);
      const keys = ['p1/a', 'p1/b', 'p2/a'];
      const records = keys.map(() => [0, 1].map(() => ({
        crop: Uint8Array.from({ length: CROP_BYTES }, () => Math.floor(random() * 256)), hidden: new Float32Array(256), descriptor: new Float32Array(128),
      })));
      writeChunk(dir, 0, { keys, views: 2, failures: [], records, windowScale: STUDENT_WINDOW_SCALE });
      const [a, b] = ['models/mobileid-student.mobileid', 'reports/ablation/stage6/mobileid-student.mobileid'];
      const one = await loadFeatures(dir, a, 'descriptor');
      const other = await loadFeatures(dir, b, 'descriptor');
      const both = await loadFeatures(dir, `${a},${b}`, 'descriptor');
      expect([...both.keys()]).toEqual(keys);
      for (const key of keys) {
        for (const view of [0, 1] as const) {
          both.get(key)![view].forEach((v, j) => expect(v).toBeCloseTo((one.get(key)![view][j] + other.get(key)![view][j]) / 2, 5));
        }
        expect(Math.max(...one.get(key)![0].map((v, j) => Math.abs(v - other.get(key)![0][j])))).toBeGreaterThan(1e-3);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
