/**
 * npm run set-verification -- --model models/mobileid-student.mobileid [--prepared .cache/prepared/celeba]
 *                             [--verifier cosine|euclidean] [--far 0.01] [--no-mirror] [--seed 1]
 *                             [--dtype f16|q8|f32]
 *
 * Writes the default verification rule (graph.meta.verification: verifier, threshold, mirror)
 * into a student model file, fitted on the CelebA identity set (src/tools/verification-rule.ts:
 * the threshold at the false-accept rate --far of seeded different-identity pairs, default 1%;
 * --far 0 takes the best accuracy instead; LFW is never read). Prints the CelebA accuracy and the
 * true-accept rate at the threshold and at 1% / 0.1% false accepts.
 *
 * The weights are kept byte for byte, unless --dtype asks to store them anew (e.g. q8: 8-bit
 * weights, expanded to f32 at load); the rule is then fitted on the re-encoded weights.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { decodeModel, encodeModel, type StorageDtype } from '../src/engine/model-format.js';
import { describeRule, setVerificationRule } from '../src/tools/verification-rule.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('scripts/set-verification.ts', {
  options: {
    model: { type: 'string' },
    prepared: { type: 'string', default: '.cache/prepared/celeba' },
    verifier: { type: 'string', default: 'cosine' },
    'no-mirror': { type: 'boolean', default: false },
    far: { type: 'string', default: '0.01' },
    seed: { type: 'string', default: '1' },
    dtype: { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(`set-verification: ${message}`);
  process.exit(2);
}

if (!values.model) fail('--model <file.mobileid> is required');
const kind = values.verifier as 'cosine' | 'euclidean';
if (kind !== 'cosine' && kind !== 'euclidean') fail(`--verifier must be cosine or euclidean, got ${values.verifier}`);
const mirror = !values['no-mirror'];
const far = Number(values.far);
if (!(far >= 0 && far < 1)) fail(`--far must be a fraction in [0, 1), got ${values.far}`);

if (values.dtype !== undefined && !['f16', 'q8', 'f32'].includes(values.dtype)) fail(`--dtype must be f16, q8 or f32, got ${values.dtype}`);
if (values.dtype) {
  const { graph, tensors } = decodeModel(new Uint8Array(readFileSync(values.model)));
  writeFileSync(values.model, encodeModel(graph, tensors, { dtype: values.dtype as StorageDtype }));
}
console.log(describeRule(values.model, await setVerificationRule(values.model, { prepared: values.prepared!, verifier: kind, mirror, far, seed: Number(values.seed) })));
