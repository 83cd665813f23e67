// prepare-data and distill killed with SIGKILL at seeded moments resume to the very bytes of an
// uninterrupted run; a damaged chunk or checkpoint is reported and redone (scripts/crash-resume.ts).
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crashResume } from '../scripts/crash-resume.js';

const teacher = new URL('../models/teacher-dlib-resnet.mobileid', import.meta.url);

describe.skipIf(!existsSync(teacher))('kill and resume (teacher model from npm run convert-models)', () => {
  it('prepare-data and distill resume byte-identically and redo damaged files', async () => {
    const report = await crashResume({ kills: 2, seed: 3, epochs: 2, log: () => {} });
    for (const job of [report.prepare, report.distill]) {
      expect(job.identical).toBe(true);
      expect(job.corruptionRedone).toBe(true);
      expect(job.runs).toBe(job.kills.length + 1);
    }
    expect(report.prepare.kills.length + report.distill.kills.length).toBeGreaterThan(0);
  }, 600_000);
});
