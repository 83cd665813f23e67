// Pair lists and what is measured on them (src/verify/pairs.ts): both file formats, header or
// none, errors naming file and line, cross-validation whose thresholds never come from the tested
// fold, failed pairs wrong at every threshold, thresholds at a false-accept rate.
import { describe, expect, it } from 'vitest';
import { calibrate } from '../src/cli/eval-pairs.js';
import { IdentityPairsError, identityPairList } from '../src/tools/identity-pairs.js';
import {
  PairListFormatError, bestThreshold, crossValidate, failedAsRejected, parsePairList, rocCurve, tarAtFar, thresholdAtFar,
} from '../src/verify/pairs.js';

describe('parsePairList', () => {
  it("reads LFW's pairs.txt format as photo paths, fold by fold", () => {
    const list = parsePairList('2\t1\nAnn\t1\t2\nAnn\t1\tBob\t3\nCid 2 4\nDan 1 Eve 1\n', 'pairs.txt');
    expect(list.format).toBe('lfw');
    expect(list.folds).toBe(2);
    expect(list.pairs).toEqual([
      { a: 'Ann/Ann_0001.jpg', b: 'Ann/Ann_0002.jpg', same: true, fold: 0, line: 2 },
      { a: 'Ann/Ann_0001.jpg', b: 'Bob/Bob_0003.jpg', same: false, fold: 0, line: 3 },
      { a: 'Cid/Cid_0002.jpg', b: 'Cid/Cid_0004.jpg', same: true, fold: 1, line: 4 },
      { a: 'Dan/Dan_0001.jpg', b: 'Eve/Eve_0001.jpg', same: false, fold: 1, line: 5 },
    ]);
  });

  it('reads tab-separated pairs with a folds header', () => {
    const list = parsePairList('2\t2\nx/a.jpg\tx/b.jpg\t1\nx/a.jpg\ty/c d.jpg\t0\np.png\tq.png\t1\np.png\tr.png\t0\n', 'my.tsv');
    expect(list.format).toBe('tsv');
    expect(list.folds).toBe(2);
    expect(list.pairs.map((p) => [p.a, p.b, p.same, p.fold, p.line])).toEqual([
      ['x/a.jpg', 'x/b.jpg', true, 0, 2],
      ['x/a.jpg', 'y/c d.jpg', false, 0, 3],
      ['p.png', 'q.png', true, 1, 4],
      ['p.png', 'r.png', false, 1, 5],
    ]);
  });

  it('without a header: one fold, lines counted from 1', () => {
    const list = parsePairList('a.jpg\tb.jpg\t1\r\na.jpg\tc.jpg\t0\r\n\r\n', 'my.tsv');
    expect(list.folds).toBe(1);
    expect(list.pairs.map((p) => [p.fold, p.line])).toEqual([[0, 1], [0, 2]]);
  });

  it.each([
    ['', /my.tsv is empty/],
    ['a.jpg b.jpg 1\n', /my.tsv line 1: expected '<fileA>\\t<fileB>\\t<1\|0>'/],
    ['a.jpg\tb.jpg\tyes\n', /my.tsv line 1: the label must be 1/],
    ['a.jpg\tb.jpg\t1\na.jpg\t\t0\n', /my.tsv line 2/],
    ['2\t2\na.jpg\tb.jpg\t1\na.jpg\tc.jpg\t0\n', /2 pair lines; its header '2\t2' promises 2 x 2 = 4/],
    ['1\t2\na.jpg\tb.jpg\t1\na.jpg\tc.jpg\t1\n', /fold 1 needs both/],
    ['1 1\nAnn 1 2\nBob 1 Cid\n', /my.tsv line 3.*different-person/],
  ])('rejects %j naming the file and line', (text, message) => {
    expect(() => parsePairList(text, 'my.tsv')).toThrow(PairListFormatError);
    expect(() => parsePairList(text, 'my.tsv')).toThrow(message);
  });
});

describe('crossValidate', () => {
  // fold 0 separates at 0.5, fold 1 at 5: a fold's own best threshold would be perfect on it
  const scores = [0.9, 0.1, 0.8, 0.2, 9, 1, 8, 2];
  const same = [true, false, true, false, true, false, true, false];
  const fold = [0, 0, 0, 0, 1, 1, 1, 1];

  it("tests each fold with the other folds' threshold only", () => {
    const cv = crossValidate(scores, same, fold, 2);
    expect(cv.folds[0].threshold).toBe(bestThreshold(scores.slice(4), same.slice(4)).threshold);
    expect(cv.folds[1].threshold).toBe(bestThreshold(scores.slice(0, 4), same.slice(0, 4)).threshold);
    // fold 1's threshold (between 2 and 8) calls all of fold 0 "different": half right
    expect(cv.folds[0].accuracy).toBe(0.5);
    // fold 0's threshold (between 0.2 and 0.8) calls all of fold 1 "same": half right
    expect(cv.folds[1].accuracy).toBe(0.5);
    expect(cv.accuracyMean).toBe(0.5);
    expect(cv.accuracySe).toBe(0);
  });

  it('one fold: its own best threshold, no standard error', () => {
    const cv = crossValidate(scores.slice(0, 4), same.slice(0, 4), [0, 0, 0, 0], 1);
    expect(cv.folds).toEqual([{ accuracy: 1, threshold: 0.5 }]);
    expect(cv.accuracySe).toBeNull();
  });

  it('a failed pair (NaN) is wrong at every threshold in accuracy, same or different, and never moves a threshold', () => {
    const withFailed = [...scores.slice(0, 4), NaN, NaN];
    const labels = [...same.slice(0, 4), true, false];
    const cv = crossValidate(withFailed, labels, [0, 0, 0, 0, 0, 0], 1);
    expect(cv.folds[0]).toEqual({ accuracy: 4 / 6, threshold: 0.5 });
  });

  it('in the ROC a failed pair is never accepted: a missed same pair, a different pair not falsely accepted', () => {
    const labels = [true, true, true, false, false, false];
    const sure = failedAsRejected([0.9, 0.8, NaN, 0.1, 0.2, NaN]);
    expect([sure[2], sure[5]]).toEqual([-Infinity, -Infinity]);
    const { auc, roc } = rocCurve(sure, labels);
    // at every finite threshold at most 2 of the 3 same pairs are accepted
    expect(tarAtFar(roc, 0)).toBeCloseTo(2 / 3, 12);
    // orderings same > different: 0.9 and 0.8 beat 0.1, 0.2 and the failed one (6), the tie of
    // the two failed pairs counts half: 6.5 of 9
    expect(auc).toBeCloseTo(6.5 / 9, 12);
  });
});

describe('thresholds at a false-accept rate', () => {
  const different = Array.from({ length: 1000 }, (_, i) => i / 1000);

  it('lets through the fraction far of the different pairs, read as score > or >= threshold', () => {
    for (const far of [0, 0.001, 0.01, 0.1]) {
      const t = thresholdAtFar(different, far);
      expect(different.filter((s) => s > t).length).toBe(Math.floor(far * 1000));
      expect(different.filter((s) => s >= t).length).toBe(Math.floor(far * 1000));
    }
    expect(thresholdAtFar([-0.5, -2], 0)).toBeGreaterThan(-0.5);
    expect(thresholdAtFar([-0.5, -2], 0)).toBeLessThan(-0.4999999);
  });

  it('tarAtFar reads the ROC at the rate', () => {
    const roc: [number, number][] = [[0, 0], [0, 0.5], [0.01, 0.9], [0.5, 1], [1, 1]];
    expect(tarAtFar(roc, 0.001)).toBe(0.5);
    expect(tarAtFar(roc, 0.01)).toBe(0.9);
  });

  it("calibrate: each fold's threshold from the other folds, rates measured on the held-out fold", () => {
    // fold 0: different pairs score 0..0.99, same 0.5..1.49; fold 1 everything shifted by +10
    const scores: number[] = [];
    const same: boolean[] = [];
    const fold: number[] = [];
    for (const [f, shift] of [[0, 0], [1, 10]]) {
      for (let i = 0; i < 100; i++) {
        scores.push(shift + i / 100, shift + 0.5 + i / 100);
        same.push(false, true);
        fold.push(f, f);
      }
    }
    const result = calibrate(scores, same, fold, 2, 0.01);
    // fold 0 is tested with fold 1's threshold (near 10.98): nothing of fold 0 is accepted
    expect(result.folds[0]).toMatchObject({ tar: 0, far: 0 });
    // fold 1 is tested with fold 0's (0.98): everything of fold 1 is accepted
    expect(result.folds[1]).toMatchObject({ tar: 1, far: 1 });
    expect(result.folds[0].threshold).toBe(thresholdAtFar(scores.filter((_, i) => fold[i] === 1 && !same[i]), 0.01));
    // the written threshold comes from all pairs
    expect(result.threshold).toBe(thresholdAtFar(scores.filter((_, i) => !same[i]), 0.01));
  });
});

describe('identityPairList (npm run make-pairs)', () => {
  const photos = new Map(Array.from({ length: 12 }, (_, i) => [`id${i}`, Array.from({ length: 4 }, (_, k) => `id${i}/p${k}.jpg`)]));

  it('identity-disjoint folds of distinct same- then different-identity pairs that eval-pairs reads back', () => {
    const text = identityPairList(photos, { folds: 3, perClass: 5, seed: 7 });
    expect(identityPairList(photos, { folds: 3, perClass: 5, seed: 7 })).toBe(text);
    const list = parsePairList(text, 'celeba.tsv');
    expect(list.folds).toBe(3);
    expect(list.pairs).toHaveLength(30);
    const identity = (photo: string) => photo.split('/')[0];
    const foldOf = new Map<string, number>();
    for (const p of list.pairs) {
      expect(identity(p.a) === identity(p.b)).toBe(p.same);
      expect(p.a).not.toBe(p.b);
      for (const id of [identity(p.a), identity(p.b)]) {
        expect(foldOf.get(id) ?? p.fold).toBe(p.fold);
        foldOf.set(id, p.fold);
      }
    }
    list.pairs.forEach((p, i) => expect(p.same).toBe(i % 10 < 5));
    expect(new Set(list.pairs.map((p) => [p.a, p.b].sort().join())).size).toBe(30);
  });

  it('too few identities for the folds: a typed error', () => {
    expect(() => identityPairList(photos, { folds: 7, perClass: 1, seed: 1 })).toThrow(IdentityPairsError);
    expect(() => identityPairList(photos, { folds: 7, perClass: 1, seed: 1 })).toThrow(/fold 6 has 1 identities/);
  });
});
