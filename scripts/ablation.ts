/**
 * npm run ablation [-- options]
 *
 * The distillation recipe at equal budget (src/tools/train/ablation.ts): each variant is trained
 * with `npm run distill` for the same epochs on the same prepared data, split, seed and schedule
 * (resumable: a stopped ablation continues where it was), its training report copied to
 * --report-dir, then scored on LFW View 2 (`mobileid eval-lfw`, cosine, mirror averaged). Table of
 * the results: npx tsx scripts/lfw-table.ts reports/ablation.
 *
 *   --variants LIST   comma-separated (default plain,bn,bn-prelu,bn-l2,bn-rkd,bn-neuron):
 *                       plain       the current recipe (deep layout, descriptor, one global scale,
 *                                   L2 + 16 (1 - cos)) without batch norm
 *                       bn          with batch norm: the baseline (the previous shipped student's recipe)
 *                       bn-prelu    bn with PReLU
 *                       bn-prelu-conv5  bn-prelu with the conv5 layout (student-graph.ts)
 *                       bn-prelu-mobile bn-prelu with the depthwise-separable mobile layout
 *                       bn-l2       bn without the cosine term
 *                       bn-rkd      bn plus RKD's distance term (--relation-weight 25)
 *                       bn-neuron   bn with per-neuron standardised targets
 *                     and the earlier target ablation (paper layout, L2; run it on UTKFace, whose
 *                     attribute labels `selected` needs): selected, hidden, desc-neuron,
 *                     desc-global, desc-cosine.
 *                     VARIANT@NAME runs a variant under another name, e.g. on a view bank's caches.
 *   --epochs N        per variant (default 4)
 *   --data DIRS       prepared caches, comma-separated (default .cache/prepared/fairface,
 *                     .cache/prepared/celeba)
 *   --lfw DIR         prepared LFW cut at the same window (default .cache/prepared/lfw)
 *   --report-dir DIR  default reports/ablation
 *   --dry-run         print the commands, run nothing
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { parseToolArgs } from '../src/cli/args.js';
import { ABLATION_VARIANTS, DEFAULT_ABLATION_VARIANTS, planAblation, type AblationRun } from '../src/tools/train/ablation.js';
import { TrainingError } from '../src/tools/train/errors.js';

const { values } = parseToolArgs('scripts/ablation.ts', {
  options: {
    variants: { type: 'string', default: DEFAULT_ABLATION_VARIANTS.join(',') },
    epochs: { type: 'string', default: '4' },
    data: { type: 'string', default: '.cache/prepared/fairface,.cache/prepared/celeba' },
    lfw: { type: 'string', default: '.cache/prepared/lfw' },
    'report-dir': { type: 'string', default: 'reports/ablation' },
    'dry-run': { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  console.error(`ablation: ${message}`);
  process.exit(2);
}

if (!/^\d+$/.test(values.epochs)) fail(`--epochs must be a whole number >= 1, got ${values.epochs}`);
let runs: AblationRun[];
try {
  runs = planAblation({
    epochs: Number(values.epochs),
    data: values.data.split(',').filter(Boolean),
    runs: values.variants.split(',').filter(Boolean),
    lfw: values.lfw,
    reportDir: values['report-dir'],
  });
} catch (error) {
  if (!(error instanceof TrainingError)) throw error;
  fail(error.message);
}

/** Runs a TypeScript entry point of this checkout through the same tsx loader; stops the ablation if it fails. */
function run(script: string, args: string[]): void {
  const line = `${script} ${args.join(' ')}`;
  console.error(`$ ${line}`);
  if (values['dry-run']) return;
  const ran = spawnSync(process.execPath, [...process.execArgv, script, ...args], { stdio: 'inherit' });
  if (ran.status !== 0) {
    console.error(`ablation: stopped, ${script} exited with ${ran.status ?? ran.signal}`);
    process.exit(ran.status || 1);
  }
}

for (const plan of runs) {
  console.error(`\n# ${plan.name}: ${ABLATION_VARIANTS[plan.variant].about}`);
  run('scripts/distill.ts', plan.distill);
  if (!values['dry-run']) {
    mkdirSync(values['report-dir'], { recursive: true });
    for (const [from, to] of plan.reports) copyFileSync(from, to);
  }
  run('src/cli.ts', plan.evaluate);
}
