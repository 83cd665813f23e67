/**
 * npm run concurrency -- [--calls 200] [--pool-size 2] [--dispose-calls 32] [--input-size 416]
 *                        [--seed 1] [--json]
 *
 * Overlapping calls of one FaceRecognizer and of a RecognizerPool against sequential answers,
 * and dispose()/close() with calls pending (src/tools/concurrency.ts). Progress on stderr; with
 * --json the last stdout line is the report: calls, mismatches, errors, typed errors on dispose,
 * seconds. Exits 1 unless every answer matches and every pending call ends in a DisposedError.
 * test/concurrency.test.ts runs a small slice in CI.
 */
import { checkConcurrency } from '../src/tools/concurrency.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('scripts/concurrency.ts', {
  options: {
    calls: { type: 'string', default: '200' },
    'pool-size': { type: 'string', default: '2' },
    'dispose-calls': { type: 'string', default: '32' },
    'input-size': { type: 'string', default: '416' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const whole = (name: 'calls' | 'pool-size' | 'dispose-calls' | 'input-size' | 'seed', min: number) => {
  const value = Number(values[name]);
  if (!(Number.isInteger(value) && value >= min)) {
    console.error(`--${name} must be a whole number >= ${min}, got ${values[name]}`);
    process.exit(2);
  }
  return value;
};
const report = await checkConcurrency({
  calls: whole('calls', 1),
  poolSize: whole('pool-size', 1),
  disposeCalls: whole('dispose-calls', 2),
  inputSize: whole('input-size', 32),
  seed: whole('seed', 0),
});
if (values.json) console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
