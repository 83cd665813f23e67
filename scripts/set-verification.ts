/**
 * npm run set-verification -- --model models/mobileid-student.mobileid [--prepared .cache/prepared/celeba]
 *                             [--verifier cosine|euclidean] [--far 0.01] [--no-mirror] [--seed 1]
 *                             [--dtype f16|q8|f32]
 *
 * Writes the default verification rule (graph.meta.verification: verifier, threshold, mirror)
 * into a student model file, fitted on the CelebA identity set (identity-labelled outside data,
 * disjoint from LFW): the student embeds the prepared aligned crops (mirror-averaged unless
 * --no-mirror), every same-identity pair and as many seeded random different-identity pairs are
 * scored, and the threshold is the one that lets through the fraction --far of the different
 * pairs (default 1%: a library's default should reject unknown people; --far 0 takes the
 * threshold with the best accuracy instead). LFW is never read, so
 * LFW figures measured with this rule are not tuned on LFW. Prints the CelebA accuracy and the
 * true-accept rate at the threshold and at 1% / 0.1% false accepts.
 *
 * The weights are kept byte for byte, unless --dtype asks to store them anew (e.g. q8: 8-bit
 * weights, expanded to f32 at load); the rule is then fitted on the re-encoded weights.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decodeModel, encodeModel, type StorageDtype } from '../src/engine/model-format.js';
import { withVerificationDefaults } from '../src/face/recognizer.js';
import { seededRandom } from '../src/math/random.js';
import { combine, loadFeatures } from '../src/tools/eval-lfw.js';
import { bestThreshold, thresholdAtFar as thresholdAtRate } from '../src/verify/pairs.js';
import { createVerifier } from '../src/verify/verifier.js';

const { values } = parseArgs({
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
const bytes = new Uint8Array(readFileSync(values.model));
// embeddings and identity labels of every prepared CelebA image (keys are <identity>/<file>)
const features = await loadFeatures(values.prepared!, values.model, 'descriptor');
const labels = [...features.keys()].map((key) => key.split('/')[0]);
const embeddings = [...features.values()].map((views) => combine(views, mirror, 'average'));
if (new Set(labels).size < 2) fail(`${values.prepared} holds fewer than 2 identities`);

const verifier = createVerifier(kind);
const embedded = embeddings.map((e) => verifier.embed(e));
const scores: number[] = [];
const same: boolean[] = [];
for (let i = 0; i < embedded.length; i++) {
  for (let j = i + 1; j < embedded.length; j++) {
    if (labels[i] !== labels[j]) continue;
    scores.push(verifier.compare(embedded[i], embedded[j]));
    same.push(true);
  }
}
const sameCount = scores.length;
const random = seededRandom(Number(values.seed));
while (scores.length < 2 * sameCount) {
  const i = Math.floor(random() * embedded.length);
  const j = Math.floor(random() * embedded.length);
  if (labels[i] === labels[j]) continue;
  scores.push(verifier.compare(embedded[i], embedded[j]));
  same.push(false);
}
const different = scores.filter((_, k) => !same[k]);
// "same" iff score > threshold: the threshold letting through `rate` of the different pairs
const thresholdAtFar = (rate: number) => thresholdAtRate(different, rate);
const threshold = far > 0 ? thresholdAtFar(far) : bestThreshold(scores, same).threshold;
const accuracy = scores.filter((s, k) => s > threshold === same[k]).length / scores.length;
const tarAbove = (t: number) => scores.filter((s, k) => same[k] && s > t).length / sameCount;
const atFar = (rate: number) => tarAbove(thresholdAtFar(rate));
const farAt = different.filter((s) => s > threshold).length / different.length;

writeFileSync(values.model, withVerificationDefaults(bytes, {
  verifier: kind, threshold, mirror,
  source: `${far > 0 ? `${far * 100}% false accepts` : 'best accuracy'} on the CelebA identity set (${labels.length} images, ${new Set(labels).size} identities, ${sameCount} same + ${sameCount} different pairs)`,
}));
const percent = (x: number) => `${(100 * x).toFixed(2)}%`;
console.log(
  `${values.model}: ${kind} threshold ${threshold.toFixed(4)} mirror ${mirror}; on CelebA: accuracy ${percent(accuracy)}, ` +
    `true accepts ${percent(tarAbove(threshold))} at ${percent(farAt)} false accepts; at 1% false accepts ${percent(atFar(0.01))}, at 0.1% ${percent(atFar(0.001))}`,
);
