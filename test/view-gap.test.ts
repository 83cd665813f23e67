// npm run view-gap: a student distilled on a tiny real bank (five cuts of one face, 3 views),
// its losses on bank, fresh and validation views, and its refusals.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISTILL_DEFAULTS, runDistillation, type RunRecord } from '../src/tools/train/distill.js';
import { measureViewGap } from '../src/tools/train/view-gap.js';
import { writeFaceSlice } from './face-slice.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mobileid-view-gap-'));
const model = path.join(dir, 'student', 'tiny.mobileid');

beforeAll(async () => {
  writeFaceSlice(dir);
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/prepare-data.ts', '--dataset', 'utkface', '--data', dir, '--out', path.join(dir, 'bank'), '--workers', '1', '--views', '3', '--mixup', '0.5'], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  await runDistillation({
    ...DISTILL_DEFAULTS, data: [path.join(dir, 'bank', 'utkface')], out: model, checkpointDir: path.join(dir, 'ckpt'),
    epochs: 1, batch: 4, workers: 0, validationFraction: 0.4, log: () => {},
  });
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('view-gap', () => {
  it("measures bank, fresh and validation views; the validation row is the run log's validation loss", async () => {
    const report = await measureViewGap({ model, images: 10, dataRoot: dir, fairface: path.join(dir, 'none') });
    const { training, validation } = report;
    expect(training.bankAll.images + validation.bankAll.images).toBe(5);
    expect(validation.bankAll.images).toBeGreaterThan(0);
    expect([training.bankAll.views, training.bankJittered.views, training.fresh.views, validation.bankJittered.views]).toEqual([3, 1, 1, 1]);
    expect(training.teacherOnCrops.images).toBe(training.bankJittered.images);
    expect(training.teacherOnCrops.views).toBe(1);
    for (const row of [training.bankAll, training.bankJittered, training.fresh, training.teacherOnCrops, validation.bankAll, validation.bankJittered]) {
      expect(row.loss).toBeGreaterThan(0);
      expect(Number.isFinite(row.loss)).toBe(true);
    }
    expect(report.freshMinusBank.mean).toBeCloseTo(training.fresh.loss - training.bankJittered.loss, 6);
    expect(report.validationMinusFresh.mean).toBeCloseTo(validation.bankJittered.loss - training.fresh.loss, 6);
    expect(report.validationMinusFresh.se).toBe(Math.hypot(validation.bankJittered.se, training.fresh.se)); // NaN for a single validation image
    // the f16 model file reproduces the training network's validation loss
    expect(Math.abs(validation.bankAll.loss / report.reportedValidationLoss - 1)).toBeLessThan(0.01);
    expect(report.ownBanks).toBe(true);

    // another bank of the same set and split (here a copy): the same bank rows
    const copy = path.join(dir, 'copy', 'utkface');
    cpSync(path.join(dir, 'bank', 'utkface'), copy, { recursive: true });
    const elsewhere = await measureViewGap({ model, images: 10, dataRoot: dir, fairface: path.join(dir, 'none'), banks: [copy] });
    expect(elsewhere.ownBanks).toBe(false);
    expect([elsewhere.training.bankAll, elsewhere.validation.bankAll]).toEqual([training.bankAll, validation.bankAll]);
  }, 120_000);

  it('refuses a model without its run log, a run log of another kind or damaged, neuron targets and too few images', async () => {
    const options = { images: 10, dataRoot: dir, fairface: path.join(dir, 'none') };
    const lonely = path.join(dir, 'lonely.mobileid');
    copyFileSync(model, lonely);
    await expect(measureViewGap({ ...options, model: lonely })).rejects.toThrow(/needs its run log/);
    await expect(measureViewGap({ ...options, model: path.join(dir, 'missing.mobileid') })).rejects.toThrow(/not found/);
    const runLog = JSON.parse(readFileSync(model.replace(/\.mobileid$/, '.train.json'), 'utf8')) as RunRecord;
    const edited = path.join(dir, 'edited.mobileid');
    copyFileSync(model, edited);
    writeFileSync(edited.replace(/\.mobileid$/, '.train.json'), JSON.stringify({ ...runLog, options: { ...runLog.options, targets: 'selected' } }));
    await expect(measureViewGap({ ...options, model: edited })).rejects.toThrow(/regresses selected targets/);
    writeFileSync(edited.replace(/\.mobileid$/, '.train.json'), '{"not": "a run"}');
    await expect(measureViewGap({ ...options, model: edited })).rejects.toThrow(/is not a distill run log/);
    writeFileSync(edited.replace(/\.mobileid$/, '.train.json'), '{"truncated');
    await expect(measureViewGap({ ...options, model: edited })).rejects.toThrow(/is not valid JSON/);
    await expect(measureViewGap({ ...options, model, images: 1 })).rejects.toThrow(/images must be an integer >= 2/);
    await expect(measureViewGap({ ...options, model, banks: [path.join(dir, 'bank')] })).rejects.toThrow(/must be of the sets the run was trained on, in its order \(utkface\), got bank/);
  });

  it('the script prints the table, and exits 2 with the error on bad input', () => {
    const script = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/view-gap.ts', '--data', dir, ...args], { encoding: 'utf8' });
    const ok = script('--model', model, '--images', '3');
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/\| training images, fresh jittered views \| \d \| 1 \| [\d.]+ \+- [\d.]+ \|/);
    expect(ok.stdout).toMatch(/\| training images, the bank's jittered views, the teacher on the student's crops \| \d \| 1 \| [\d.]+ \+- [\d.]+ \|/);
    expect(ok.stdout).toMatch(/the run log's validation loss: [\d.]+/);
    const bad = script('--model', path.join(dir, 'missing.mobileid'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^view-gap: .*missing\.mobileid not found/m);
    expect(script().stderr).toMatch(/--model FILE is required/);
  }, 120_000);
});
