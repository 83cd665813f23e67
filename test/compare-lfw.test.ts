import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { comparePaired, readFoldReport } from '../src/tools/compare-lfw.js';
import { LfwDataError } from '../src/tools/lfw.js';

const report = (folds: number[]) => ({ model: 'm', verifier: 'cosine', folds });

describe('comparePaired', () => {
  it('gives the fold-by-fold differences, their mean, paired standard error and t', () => {
    const base = report([0.95, 0.96, 0.97, 0.94]);
    const other = report([0.96, 0.96, 0.99, 0.95]);
    const c = comparePaired(base, other);
    c.differences.forEach((d, i) => expect(d).toBeCloseTo([0.01, 0, 0.02, 0.01][i], 12));
    expect(c.mean).toBeCloseTo(0.01, 12);
    // differences 0.01, 0, 0.02, 0.01: sample variance 0.0002 / 3, s.e. sqrt(0.0002 / 3 / 4)
    expect(c.se).toBeCloseTo(Math.sqrt(0.0002 / 12), 12);
    expect(c.t).toBeCloseTo(0.01 / Math.sqrt(0.0002 / 12), 9);
    expect([c.better, c.worse, c.level]).toEqual([3, 0, 1]);
  });

  it('is tighter than the unpaired standard errors when folds move together', () => {
    const base = report([0.9, 0.95, 0.97, 0.92, 0.99]);
    const other = report(base.folds.map((a, i) => a + 0.004 + (i % 2) * 0.001));
    const c = comparePaired(base, other);
    expect(c.t).toBeGreaterThan(10);
    expect(comparePaired(other, base).mean).toBeCloseTo(-c.mean, 12);
  });

  it('refuses reports over different folds', () => {
    expect(() => comparePaired(report([0.9, 0.9, 0.9]), report([0.9, 0.9]))).toThrow(LfwDataError);
  });
});

describe('readFoldReport and npm run compare-lfw', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'compare-lfw-'));
  const write = (name: string, content: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    return file;
  };

  it('throws LfwDataError on a missing file, bad JSON or a report without fold accuracies', () => {
    expect(() => readFoldReport(path.join(dir, 'none.json'))).toThrow(/cannot read/);
    expect(() => readFoldReport(write('bad.json', '{'))).toThrow(LfwDataError);
    expect(() => readFoldReport(write('old.json', JSON.stringify({ model: 'm', accuracy_mean: 0.9 })))).toThrow(/per-fold accuracies/);
    expect(() => readFoldReport(write('nan.json', JSON.stringify(report([0.9, 2]))))).toThrow(LfwDataError);
  });

  it('prints one row per report, and exits 2 with a message on a bad one', () => {
    const a = write('a.json', JSON.stringify(report([0.95, 0.96, 0.97])));
    const b = write('b.json', JSON.stringify(report([0.96, 0.97, 0.97])));
    const run = (...files: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/compare-lfw.ts', ...files], { encoding: 'utf8' });
    const ok = run(a, b);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('| +0.67 +- 0.33 | 2.00 | 2 / 0 / 1 | +1.00 +1.00 +0.00 |');
    const bad = run(a, path.join(dir, 'missing.json'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^compare-lfw: cannot read/);
    expect(run(a).status).toBe(2);
  });
});
