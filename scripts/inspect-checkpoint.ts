/**
 * npm run inspect-checkpoint -- FILE [--match REGEX] [--json]
 *
 * What a distill checkpoint (checkpoint.bin) holds (src/tools/train/inspect.ts): the run's layout,
 * epochs and last losses, then each trained tensor's shape, RMS and largest absolute value;
 * --match keeps the tensors whose names match, e.g. `--match res2` for a grown residual branch.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseToolArgs } from '../src/cli/args.js';
import { MobileIdError } from '../src/errors.js';
import { summarizeCheckpoint } from '../src/tools/train/inspect.js';

const { values, positionals } = parseToolArgs('scripts/inspect-checkpoint.ts', {
  options: { match: { type: 'string' }, json: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const files = positionals.filter((a) => a !== '--');
if (files.length !== 1) {
  console.error('usage: npm run inspect-checkpoint -- FILE [--match REGEX] [--json]');
  process.exit(2);
}
let match: RegExp;
try {
  match = new RegExp(values.match ?? '');
} catch {
  console.error(`inspect-checkpoint: --match is not a regular expression: ${values.match}`);
  process.exit(2);
}
if (!existsSync(files[0])) {
  console.error(`inspect-checkpoint: no file at ${files[0]}`);
  process.exit(2);
}
try {
  const summary = summarizeCheckpoint(new Uint8Array(readFileSync(files[0])), files[0]);
  const tensors = summary.tensors.filter((t) => match.test(t.name));
  if (values.json) {
    console.log(JSON.stringify({ ...summary, tensors }));
  } else {
    const { run } = summary;
    const last = run.history.at(-1);
    console.log(`${files[0]}: ${run.options.arch} layout, ${run.epoch} of ${run.options.epochs} epochs done, step ${summary.step}` +
      (last ? `, last epoch train loss ${last.trainLoss.toFixed(4)} val loss ${last.validationLoss.toFixed(4)}` : ''));
    console.log('| tensor | shape | RMS | max abs |');
    console.log('|---|---|---|---|');
    for (const t of tensors) console.log(`| ${t.name}${t.statistic ? ' (running statistic)' : ''} | ${t.shape.join('x')} | ${t.rms.toFixed(4)} | ${t.maxAbs.toFixed(4)} |`);
  }
} catch (error) {
  if (!(error instanceof MobileIdError)) throw error;
  console.error(`inspect-checkpoint: ${error.message}`);
  process.exit(2);
}
