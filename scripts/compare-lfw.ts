/**
 * npm run compare-lfw -- BASE.json OTHER.json [OTHER2.json ...]
 *
 * Paired comparison of eval-lfw reports (src/tools/compare-lfw.ts): for each OTHER, the fold-by-fold
 * accuracy differences against BASE, their mean +- standard error, the paired t statistic and how
 * many folds went up or down. The reports must come from the same pairs (e.g. two students, or two
 * verifiers of one student, on LFW View 2).
 */
import { comparePaired, readFoldReport } from '../src/tools/compare-lfw.js';
import { LfwDataError } from '../src/tools/lfw.js';

const files = process.argv.slice(2).filter((a) => a !== '--');
if (files.length < 2) {
  console.error('usage: npm run compare-lfw -- BASE.json OTHER.json [OTHER2.json ...]');
  process.exit(2);
}

const points = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}`;
try {
  const base = readFoldReport(files[0]);
  console.log(`base: ${files[0]} (${base.model}, ${base.verifier})`);
  console.log('| report | difference (points, mean +- s.e.) | paired t | folds up / down / level | per fold (points) |');
  console.log('|---|---|---|---|---|');
  for (const file of files.slice(1)) {
    const c = comparePaired(base, readFoldReport(file));
    console.log(`| ${file} | ${points(c.mean)} +- ${(c.se * 100).toFixed(2)} | ${c.t.toFixed(2)} | ${c.better} / ${c.worse} / ${c.level} | ${c.differences.map(points).join(' ')} |`);
  }
} catch (error) {
  if (!(error instanceof LfwDataError)) throw error;
  console.error(`compare-lfw: ${error.message}`);
  process.exit(2);
}
