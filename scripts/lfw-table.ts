/**
 * npx tsx scripts/lfw-table.ts [reports/lfw ...]
 * Prints the eval-lfw JSON reports of the given folders as one markdown table (the README's).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

interface Report {
  model: string; verifier: string; mirror: string | false; accuracy_mean: number; accuracy_se: number; auc: number;
  /** Absent in reports written before these were measured. */
  fit_on?: string; tar_at_far_1e2?: number; tar_at_far_1e3?: number;
}

const percent = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);

const dirs = process.argv.slice(2);
console.log('| model | verifier | fitted on | mirror | accuracy (mean +- s.e., 10 folds) | AUC | TAR @ 1% FAR | TAR @ 0.1% FAR | report |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const dir of dirs.length ? dirs : ['reports/lfw']) {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const r = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Report;
    const label = file.includes('-hidden-') ? `${path.basename(r.model)} (256-d hidden)` : path.basename(r.model);
    const fitted = r.verifier === 'jb' ? (r.fit_on && r.fit_on !== 'lfw' ? path.basename(r.fit_on) : 'LFW 9 folds') : '-';
    console.log(
      `| ${label} | ${r.verifier} | ${fitted} | ${r.mirror || 'no'} | ${percent(r.accuracy_mean)} +- ${(r.accuracy_se * 100).toFixed(2)} | ${r.auc.toFixed(4)} ` +
        `| ${percent(r.tar_at_far_1e2)} | ${percent(r.tar_at_far_1e3)} | [${file}](${dir}/${file}) |`,
    );
  }
}
