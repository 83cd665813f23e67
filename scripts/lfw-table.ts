/**
 * npx tsx scripts/lfw-table.ts [reports/lfw ...]
 * Prints the eval-lfw JSON reports of the given folders as one markdown table (the README's).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

interface Report { model: string; verifier: string; mirror: string | false; accuracy_mean: number; accuracy_se: number; auc: number }

const dirs = process.argv.slice(2);
console.log('| model | verifier | mirror | accuracy (mean +- s.e., 10 folds) | AUC | report |');
console.log('|---|---|---|---|---|---|');
for (const dir of dirs.length ? dirs : ['reports/lfw']) {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const r = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Report;
    const label = file.includes('-hidden-') ? `${path.basename(r.model)} (256-d hidden)` : path.basename(r.model);
    console.log(`| ${label} | ${r.verifier} | ${r.mirror || 'no'} | ${(r.accuracy_mean * 100).toFixed(2)}% +- ${(r.accuracy_se * 100).toFixed(2)} | ${r.auc.toFixed(4)} | [${file}](${dir}/${file}) |`);
  }
}
