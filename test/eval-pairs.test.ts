// mobileid eval-pairs and calibrate as a user runs them, on small pair lists built from the demo
// sample photos (a.jpg and a-variant.jpg: one person; b.jpg: another) and a generated blank photo
// in which no face can be found.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel } from '../src/engine/model-format.js';
import { worstPairs } from '../src/cli/eval-pairs.js';
import { encodePng } from '../src/image.js';
import type { PairList } from '../src/verify/pairs.js';
import { cli, cliAsync, expectOneLineError, repo } from './cli-run.js';

const out = mkdtempSync(path.join(tmpdir(), 'mobileid-eval-pairs-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const sample = (name: string) => path.join(repo, 'demo/samples', name);
const blank = encodePng({ width: 160, height: 160, data: new Uint8Array(160 * 160 * 3).fill(128) });

/** An LFW-style images folder: Ann (a, a-variant), Bob (b), Nof (a blank photo). */
function lfwFolder(): string {
  const images = path.join(out, 'lfw-images');
  for (const person of ['Ann', 'Bob', 'Nof']) mkdirSync(path.join(images, person), { recursive: true });
  copyFileSync(sample('a.jpg'), path.join(images, 'Ann/Ann_0001.jpg'));
  copyFileSync(sample('a-variant.jpg'), path.join(images, 'Ann/Ann_0002.jpg'));
  copyFileSync(sample('b.jpg'), path.join(images, 'Bob/Bob_0001.jpg'));
  writeFileSync(path.join(images, 'Nof/Nof_0001.jpg'), blank); // PNG bytes: the decoder sniffs the format
  return images;
}

const JSON_FIELDS = ['model', 'verifier', 'mirror', 'images', 'no_face', 'pairs', 'accuracy_mean', 'accuracy_se', 'folds', 'auc', 'tar_at_far', 'threshold'];

describe('mobileid eval-pairs', () => {
  it("LFW's format with 2 folds: a photo without a face is counted and its pair fails; --json's last line", async () => {
    const images = lfwFolder();
    const pairs = path.join(out, 'pairs.txt');
    // fold 1: Ann 1-2 same, Ann 1 vs Bob different; fold 2: Ann 2-1 same, Bob vs Nof (no face) different
    writeFileSync(pairs, '2\t1\nAnn\t1\t2\nAnn\t1\tBob\t1\nAnn\t2\t1\nBob\t1\tNof\t1\n');
    const run = await cliAsync(['eval-pairs', '--pairs', pairs, '--images', images, '--workers', '1', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.last);
    expect(Object.keys(result)).toEqual(JSON_FIELDS);
    expect(result).toMatchObject({ model: 'mobileid', images: 4, no_face: 1, pairs: 4 });
    expect(result.folds).toHaveLength(2);
    // the failed pair is wrong whatever the threshold: fold 2 is at most half right
    expect(result.folds[1].accuracy).toBeLessThanOrEqual(0.5);
    expect(Object.keys(result.tar_at_far)).toEqual(['0.01', '0.001']);
    expect(run.stderr).toMatch(/no face in 1 \(25\.00%\), 1 failed pairs/);
    expect(run.stderr).toMatch(/decode\/detect\/embed/);
  });

  it('--worst N: the lowest-scored same-person and highest-scored different-person pairs with their lines, and the photos without a face', async () => {
    const images = lfwFolder();
    const pairs = path.join(out, 'pairs-worst.txt');
    writeFileSync(pairs, '1\t2\nAnn\t1\t2\nAnn\t2\t1\nAnn\t1\tBob\t1\nBob\t1\tNof\t1\n');
    const run = await cliAsync(['eval-pairs', '--pairs', pairs, '--images', images, '--workers', '1', '--worst', '1', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.last);
    expect(Object.keys(result)).toEqual([...JSON_FIELDS, 'worst_pairs', 'no_face_photos']);
    const { same, different } = result.worst_pairs;
    expect(same).toHaveLength(1);
    expect(different).toEqual([{ a: 'Ann/Ann_0001.jpg', b: 'Bob/Bob_0001.jpg', line: 4, score: expect.any(Number) }]);
    expect(result.no_face_photos).toEqual(['Nof/Nof_0001.jpg']);
    expect(run.stderr).toMatch(/lowest-scored same-person pairs:\n {2}[-\d.]+ {2}Ann\/Ann_000\d\.jpg {2}Ann\/Ann_000\d\.jpg {2}\(line [23]\)/);
    expect(run.stderr).toMatch(/photos without a face: \n {2}Nof\/Nof_0001\.jpg/);
  });

  it('worstPairs orders same-person pairs by rising score and different-person pairs by falling score, failed pairs left out', () => {
    const list = {
      folds: 1,
      pairs: [
        { a: 'a', b: 'b', same: true, fold: 0, line: 1 }, { a: 'c', b: 'd', same: true, fold: 0, line: 2 }, { a: 'e', b: 'f', same: true, fold: 0, line: 3 },
        { a: 'g', b: 'h', same: false, fold: 0, line: 4 }, { a: 'i', b: 'j', same: false, fold: 0, line: 5 },
      ],
    };
    const worst = worstPairs(list as PairList, [0.9, 0.2, NaN, 0.1, 0.7], 2);
    expect(worst.same.map((p) => p.line)).toEqual([2, 1]);
    expect(worst.different.map((p) => p.line)).toEqual([5, 4]);
    expect(worstPairs(list as PairList, [0.9, 0.2, NaN, 0.1, 0.7], 0)).toEqual({ same: [], different: [] });
  });

  it('a photo missing from --images: one-line error naming the pair file and line', () => {
    const pairs = path.join(out, 'missing.tsv');
    writeFileSync(pairs, `a.jpg\tb.jpg\t1\na.jpg\tnot-there.jpg\t0\n`);
    expectOneLineError(cli(['eval-pairs', '--pairs', pairs, '--images', path.join(repo, 'demo/samples')]), 2, /missing\.tsv line 2: .*not-there\.jpg not found/);
  });

  it('a malformed pair file and missing options: one-line errors', () => {
    const pairs = path.join(out, 'bad.tsv');
    writeFileSync(pairs, `a.jpg\tb.jpg\tmaybe\n`);
    expectOneLineError(cli(['eval-pairs', '--pairs', pairs, '--images', 'demo/samples']), 2, /bad\.tsv line 1: the label must be 1/);
    expectOneLineError(cli(['eval-pairs', '--images', 'demo/samples']), 2, /--pairs FILE is required/);
    expectOneLineError(cli(['calibrate', '--pairs', pairs, '--images', 'demo/samples', '--out', 'x.png']), 2, /--out must name a \.mobileid file/);
  });
});

describe('mobileid calibrate', () => {
  it('pairs without a header: writes the threshold into a model file that verify then decides with', async () => {
    const pairs = path.join(out, 'calibrate.tsv');
    writeFileSync(pairs, `a.jpg\ta-variant.jpg\t1\na.jpg\tb.jpg\t0\na-variant.jpg\tb.jpg\t0\n`);
    const model = path.join(out, 'calibrated.mobileid');
    const run = await cliAsync(['calibrate', '--pairs', pairs, '--images', path.join(repo, 'demo/samples'), '--far', '0', '--out', model, '--workers', '1', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.last);
    expect(result).toMatchObject({ pairs: 3, no_face: 0, far_target: 0, far: 0, out: model });
    expect(run.stderr).toMatch(/in-sample/);
    const verification = decodeModel(new Uint8Array(readFileSync(model))).graph.meta!.verification as Record<string, unknown>;
    expect(verification).toMatchObject({ verifier: result.verifier, threshold: result.threshold, mirror: result.mirror });
    expect(verification.source).toMatch(/calibrate\.tsv/);

    const verify = await cliAsync(['verify', sample('a.jpg'), sample('b.jpg'), '--model', model, '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    const decision = JSON.parse(verify.last);
    expect(decision.threshold).toBe(verification.threshold);
    // at 0 false accepts the threshold lies just above the highest different-person score: a vs b is not "same"
    expect(decision.same).toBe(false);
  });
});
