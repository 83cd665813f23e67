/**
 * npm run soak -- [--embeddings 100000] [--verifies 10000] [--recognizers 10000]
 *                 [--input-size 416] [--stage-seconds S] [--json]
 *
 * Long use in one process (src/tools/soak.ts): embeddings, verify calls and recognizer
 * create/dispose at the counts of the reliability check by default; the wasm memory and the
 * resident memory once warmed up and at the end of each stage, every repeat bit-identical to the
 * first result of its input, and a fresh process computing the same. --stage-seconds caps each
 * stage (the report says how far it got). Progress on stderr; with --json the last stdout line
 * is the report. Exits 1 on any difference. test/soak.test.ts runs a small slice in CI.
 */
import { soak } from '../src/tools/soak.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('scripts/soak.ts', {
  options: {
    embeddings: { type: 'string', default: '100000' },
    verifies: { type: 'string', default: '10000' },
    recognizers: { type: 'string', default: '10000' },
    'input-size': { type: 'string', default: '416' },
    'stage-seconds': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const count = (name: 'embeddings' | 'verifies' | 'recognizers' | 'input-size' | 'stage-seconds') => {
  const value = Number(values[name]);
  if (!(Number.isInteger(value) && value >= 0)) {
    console.error(`--${name} must be a whole number >= 0, got ${values[name]}`);
    process.exit(2);
  }
  return value;
};
const report = await soak({
  embeddings: count('embeddings'),
  verifies: count('verifies'),
  recognizers: count('recognizers'),
  inputSize: count('input-size'),
  stageSeconds: values['stage-seconds'] === undefined ? undefined : count('stage-seconds'),
});
const ok = report.freshProcessIdentical && [report.embeddings, report.verifies, report.recognizers].every((s) => s.identical);
if (values.json) console.log(JSON.stringify(report));
process.exit(ok ? 0 : 1);
