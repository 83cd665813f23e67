/**
 * npm run quantize [-- options]
 *
 * Writes the int8 version of a student model file (src/tools/quantize.ts): int8 weights per
 * output channel (4-bit, chosen by GPTQ on the calibration faces, for the dense layers named by
 * --int4), activation scales calibrated on aligned training-set faces of the prepared caches
 * (never LFW), then checks the int8 model against the float one on other faces of the
 * same sets and prints how alike their embeddings are. The source file's checksum is recorded in
 * the output (meta.quantization.source), so a stale int8 file is detectable. Last, the int8 file
 * gets a verification rule of its own (meta.verification, src/tools/verification-rule.ts): the
 * float model's verifier and mirroring, the threshold fitted on the int8 embeddings of the CelebA
 * identity set (never LFW), as `npm run set-verification` does. One command from a float student
 * to a finished int8 file.
 *
 *   --model FILE        float (f32/f16) student to quantise (default models/mobileid-student.mobileid)
 *   --out FILE          default: FILE with .int8.mobileid in place of .mobileid
 *   --data DIRS         prepared caches, comma-separated (default .cache/prepared/fairface,
 *                       .cache/prepared/celeba, .cache/prepared/utkface: the shipped student's
 *                       training sets)
 *   --images N          calibration faces, each plain and mirrored (default 512)
 *   --check N           other faces the int8 embeddings are compared on (default 512)
 *   --percentile P      of |activation| mapped to the largest code (default 100: the largest;
 *                       chosen on held-out training faces, see src/tools/quantize.ts)
 *   --int4 LAYERS       dense layers whose weights get 4 bits, comma-separated, or none (default
 *                       fc1: 68% of the student's weights; LFW unchanged within its standard error)
 *   --seed N            which faces (default 1)
 *   --rule-data DIR     prepared CelebA identity set the rule is fitted on (default .cache/prepared/celeba)
 *   --far F             the rule's false-accept rate on it (default 0.01; 0: best accuracy)
 *   --verifier V        cosine|euclidean (default the float model's rule's, else euclidean)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from '../src/engine/crc32.js';
import { Engine } from '../src/engine/engine.js';
import { decodeModel, encodeModel } from '../src/engine/model-format.js';
import { MobileIdError } from '../src/errors.js';
import { StudentNet } from '../src/face/networks.js';
import { readVerificationDefaults } from '../src/face/recognizer.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from '../src/face/student-graph.js';
import type { RgbImage } from '../src/image.js';
import { seededRandom } from '../src/math/random.js';
import { PreparedDataset } from '../src/tools/train/dataset.js';
import { calibrateScales, DEFAULT_PERCENTILE, embeddingAgreement, fourBitDenseWeights, quantizeModel } from '../src/tools/quantize.js';
import { describeRule, setVerificationRule } from '../src/tools/verification-rule.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('scripts/quantize.ts', {
  options: {
    model: { type: 'string', default: 'models/mobileid-student.mobileid' },
    out: { type: 'string' },
    data: { type: 'string', default: ['fairface', 'celeba', 'utkface'].map((d) => `.cache/prepared/${d}`).join(',') },
    images: { type: 'string', default: '512' },
    check: { type: 'string', default: '512' },
    percentile: { type: 'string', default: String(DEFAULT_PERCENTILE) },
    int4: { type: 'string', default: 'fc1' },
    seed: { type: 'string', default: '1' },
    'rule-data': { type: 'string', default: '.cache/prepared/celeba' },
    far: { type: 'string', default: '0.01' },
    verifier: { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(`quantize: ${message}`);
  process.exit(2);
}

const source = values.model!;
const out = values.out ?? source.replace(/\.mobileid$/, '') + '.int8.mobileid';
const images = Number(values.images);
const check = Number(values.check);
const percentile = Number(values.percentile);
if (!Number.isInteger(images) || images < 1) fail(`--images must be a positive integer, got ${values.images}`);
if (!Number.isInteger(check) || check < 1) fail(`--check must be a positive integer, got ${values.check}`);
if (path.resolve(out) === path.resolve(source)) fail('--out must differ from --model');
const far = Number(values.far);
if (!(far >= 0 && far < 1)) fail(`--far must be a fraction in [0, 1), got ${values.far}`);
if (values.verifier !== undefined && values.verifier !== 'cosine' && values.verifier !== 'euclidean') fail(`--verifier must be cosine or euclidean, got ${values.verifier}`);

try {
  const bytes = new Uint8Array(readFileSync(source));
  const model = decodeModel(bytes);
  if (model.graph.quantization) fail(`${source} is already quantised`);
  const floatRule = readVerificationDefaults(model.graph.meta);
  if (!existsSync(values['rule-data']!)) fail(`${values['rule-data']} is missing: the int8 file's verification rule is fitted on the prepared CelebA identity set (npm run prepare-data -- --dataset celeba)`);
  const dirs = values.data!.split(',').filter(Boolean);
  const dataset = PreparedDataset.open(dirs);
  if (dataset.size < images + check) fail(`${dirs.join(', ')} hold ${dataset.size} faces, fewer than --images + --check`);
  // a seeded draw of distinct faces: the first `images` calibrate, the next `check` compare
  const random = seededRandom(Number(values.seed));
  const order = Array.from({ length: dataset.size }, (_, i) => i);
  for (let i = 0; i < images + check; i++) {
    const j = i + Math.floor(random() * (order.length - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const crops = (from: number, to: number): RgbImage[] =>
    order.slice(from, to).map((image) => ({ width: STUDENT_CROP_WIDTH, height: STUDENT_CROP_HEIGHT, data: dataset.crop(image, 0) }));

  const engine = await Engine.create();
  const float = new StudentNet(engine.loadModel(model, { batch: 64 }));
  if (float.windowScale !== dataset.windowScale) {
    fail(`${dirs.join(', ')} hold crops cut at window ${dataset.windowScale}; ${source} was trained on ${float.windowScale} (prepare-data --window-scale ${float.windowScale})`);
  }
  const calibration = crops(0, images);
  const plain = float.cropInputs(calibration);
  const mirrored = float.cropInputs(calibration, true);
  const inputs = new Float32Array(plain.length * 2);
  inputs.set(plain);
  inputs.set(mirrored, plain.length);
  const scales = calibrateScales(engine, model, inputs, 2 * images, { percentile });
  const int4Layers = values.int4 === 'none' ? [] : values.int4!.split(',').filter(Boolean);
  const fourBit = fourBitDenseWeights(engine, model, inputs, 2 * images, int4Layers);

  const quantized = quantizeModel(model, scales, {
    source: { file: path.basename(source), crc32: crc32(bytes) },
    weights: 'int8, symmetric, one scale per output channel' +
      (int4Layers.length ? `; ${int4Layers.join(', ')}: 4-bit (codes -7..7), one scale per output channel, GPTQ on the calibration faces` : ''),
    activations: `${percentile === 100 ? 'largest |value|' : `${percentile}th percentile of |value|`} over ${images} faces plain and mirrored`,
    calibration: { data: dirs.map((d) => path.basename(d)), faces: images, seed: Number(values.seed) },
  }, fourBit);
  // the float model's rule does not fit the int8 embeddings: fitted anew below
  delete quantized.graph.meta!.verification;
  const int8 = new StudentNet(engine.loadModel(quantized, { batch: 64 }));
  const faces = crops(images, images + check);
  const agreement = embeddingAgreement(float.embedCrops(faces), int8.embedCrops(faces), float.dimension);
  (quantized.graph.meta!.quantization as Record<string, unknown>).agreement = { faces: check, ...agreement };
  const file = encodeModel(quantized.graph, quantized.tensors, { dtype: 'f32' });
  writeFileSync(out, file);
  engine.dispose();
  console.log(
    `${out}: ${file.length} bytes (from ${source}, ${bytes.length} bytes); on ${check} other training-set faces the int8 embeddings ` +
      `have cosine ${agreement.meanCosine.toFixed(5)} (mean) / ${agreement.minCosine.toFixed(5)} (min) to the float ones, ` +
      `centred on their mean ${agreement.meanCentredCosine.toFixed(5)} / ${agreement.minCentredCosine.toFixed(5)}, ` +
      `largest relative error ${agreement.maxRelativeError.toFixed(4)}`,
  );
  const rule = await setVerificationRule(out, {
    prepared: values['rule-data']!,
    verifier: (values.verifier as 'cosine' | 'euclidean' | undefined) ?? floatRule?.verifier ?? 'euclidean',
    mirror: floatRule?.mirror ?? true,
    far,
    seed: Number(values.seed),
  });
  console.log(describeRule(out, rule));
  if (floatRule) console.log(`(the float model's rule: ${floatRule.verifier} threshold ${floatRule.threshold.toFixed(4)} mirror ${floatRule.mirror})`);
} catch (error) {
  if (error instanceof MobileIdError) fail(error.message);
  throw error;
}
