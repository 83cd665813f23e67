/**
 * npm run fuzz -- [--seconds 60] [--targets a,b] [--seed 1] [--case-ms 10000] [--max-rss-mb 3000]
 *                 [--findings .cache/fuzz/findings] [--json]
 *
 * Seeded mutation fuzzing of every parser of outside bytes (src/tools/fuzz/targets.ts: model
 * files, Joint Bayesian files, JPEG and PNG with Exif, the prepared-data cache, LFW pairs.txt,
 * training checkpoints, toRgbImage). --seconds is shared evenly by the targets, run one after
 * the other, each in a worker thread. Every case must end in a result or a MobileIdError; a
 * case running past --case-ms is a hang. Progress and findings go to stderr; the last stdout
 * line is {"targets":[{"name","cases","crashes","hangs"}],"seconds","seed"} (with --json).
 * Exits 1 on any finding; its input is in --findings (keep it in test/fuzz-corpus/<target>/).
 */
import { fuzzTarget, type TargetReport } from '../src/tools/fuzz/harness.js';
import { TARGETS } from '../src/tools/fuzz/targets.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('scripts/fuzz.ts', {
  options: {
    seconds: { type: 'string', default: '60' },
    targets: { type: 'string', default: TARGETS.map((t) => t.name).join(',') },
    seed: { type: 'string', default: '1' },
    'case-ms': { type: 'string', default: '10000' },
    'max-rss-mb': { type: 'string', default: '3000' },
    findings: { type: 'string', default: '.cache/fuzz/findings' },
    json: { type: 'boolean', default: false },
  },
});

function positive(name: string): number {
  const n = Number(values[name as keyof typeof values]);
  if (!(n > 0)) {
    console.error(`fuzz: --${name} must be a positive number, got "${values[name as keyof typeof values]}"`);
    process.exit(2);
  }
  return n;
}

const names = values.targets!.split(',').filter(Boolean);
for (const name of names) {
  if (!TARGETS.some((t) => t.name === name)) {
    console.error(`fuzz: unknown target "${name}"; targets: ${TARGETS.map((t) => t.name).join(', ')}`);
    process.exit(2);
  }
}
const seconds = positive('seconds');
const seed = positive('seed');
const started = performance.now();
const reports: TargetReport[] = [];
for (const name of names) {
  const report = await fuzzTarget(name, {
    seed, seconds: seconds / names.length, caseMs: positive('case-ms'), maxRssMb: positive('max-rss-mb'), findings: values.findings!,
    log: (line) => console.error(line),
  });
  console.error(`${name}: ${report.cases} cases, ${report.crashes} crashes, ${report.hangs} hangs`);
  reports.push(report);
}
const summary = {
  targets: reports.map(({ name, cases, crashes, hangs }) => ({ name, cases, crashes, hangs })),
  seconds: Math.round((performance.now() - started) / 100) / 10,
  seed,
};
if (values.json) console.log(JSON.stringify(summary));
process.exit(reports.some((r) => r.crashes + r.hangs > 0) ? 1 : 0);
