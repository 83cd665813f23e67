/**
 * npm run distill -- --out models/<name>.mobileid [options]
 *
 * Distils the MobileID student from the prepared cache (src/tools/train/distill.ts): progress lines
 * with epoch, step, loss, validation loss and images/s; after every epoch a checkpoint in
 * --checkpoint-dir (resume with --resume) and the model file with <name>.train.json (per-epoch
 * losses) as they stand (a stopped run's weights outlive its checkpoint: --init-from the file);
 * at the end also <name>.loss.png and <name>.train.md next to it.
 *
 *   --data DIRS             prepared caches, comma-separated (default: .cache/prepared/fairface
 *                           and .cache/prepared/celeba, the shipped student's data)
 *   --targets KIND          desc | hidden | selected (default desc: the 128-d descriptor)
 *   --arch paper|deep|conv5|mobile|deep-res student layer widths (default paper: the MobileID prototxt; deep: a
 *                           128-channel conv3 + conv4 trunk within the same budget; conv5: deep with
 *                           two 160-channel convs on the 5x4 map and fc1/fc2 of 256; mobile: a
 *                           depthwise-separable trunk; deep-res: deep plus a residual block, which
 *                           --init-from a deep checkpoint grows into; see src/face/student-graph.ts)
 *   --activation relu|prelu hidden-layer activation (default relu; prelu: one learnt slope per
 *                           channel, no extra multiply-adds)
 *   --batch-norm            batch normalisation after every conv and hidden dense layer, in
 *                           training only: folded into the weights of the model file
 *   --k N                   neurons kept with --targets selected (default 192)
 *   --nuisance-weight W     weight of age in the selection score (default 1)
 *   --standardize MODE      global (default: centred, one scale, the teacher's Euclidean metric) |
 *                           neuron (per-neuron z-scores) | identity (the descriptor's error in units
 *                           of how much one person's faces vary along each axis; needs --identities)
 *                           | none (raw values; final ReLU for hidden/selected, as in the paper)
 *   --identities DIR        with --standardize identity: the --data directory whose sub-folders are
 *                           identities (the CelebA identity set's bank)
 *   --shrink X              with --standardize identity: shrinkage of the within-identity spreads
 *                           towards their mean, 0..1 (default 0.1; 1 is the global metric rotated)
 *   --cosine-weight W       weight of the 1 - cos(output, target) term (default 16; 0 = L2 only)
 *   --relation-weight W     weight of RKD's distance term (Park et al., CVPR 2019): the student's
 *                           pairwise distances within each worker's shard of the batch, divided by
 *                           their mean, against the teacher's (Huber loss; default 0 = none)
 *   --clip-norm X           largest global gradient norm (default 100, about twice the early norms;
 *                           0 = no clipping)
 *   --epochs N --batch N --lr X        (defaults 30, 128, 1e-3)
 *   --optimizer adam|sgd --weight-decay X --momentum X   (adam, 5e-4, 0.9)
 *   --schedule cosine|step --warmup EPOCHS               (cosine, 1)
 *   --workers N             worker threads (default 2; 0 = main thread)
 *   --out FILE              model file to write (required, *.mobileid)
 *   --checkpoint-dir DIR    default .cache/distill/<name>
 *   --resume                continue from the checkpoint in --checkpoint-dir
 *   --init-from FILE        warm start: weights and target standardisation of an earlier run's
 *                           checkpoint.bin, or of a model file distill wrote (its <name>.train.json
 *                           beside it, e.g. models/mobileid-student.mobileid: batch norm is
 *                           re-calibrated on training crops), same arch (or, from a checkpoint, a
 *                           layout that grows it: deep -> deep-res), activation, targets, batch
 *                           norm; fresh optimiser and schedule
 *   --grown-rate X          with --init-from a smaller layout's checkpoint: the learning rate of the
 *                           layers growing adds, times X (default 1), so a branch that starts shut
 *                           can open at a warm start's small rate
 *   --dtype f16|q8|f32      weight storage (default f16)
 *   --val FRACTION          held-out share of images, by key (default 0.05)
 *   --seed N                split, initialisation, shuffling (default 1)
 *   --no-jitter             no photometric augmentation
 *   --max-images N          use only the first N prepared images (quick trials)
 */
import path from 'node:path';
import { MobileIdError } from '../src/errors.js';
import { DISTILL_DEFAULTS, runDistillation, type DistillOptions } from '../src/tools/train/distill.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('scripts/distill.ts', {
  options: {
    data: { type: 'string', default: ['fairface', 'celeba'].map((d) => `.cache/prepared/${d}`).join(',') },
    targets: { type: 'string' },
    arch: { type: 'string' },
    activation: { type: 'string' },
    'batch-norm': { type: 'boolean', default: false },
    k: { type: 'string' },
    'nuisance-weight': { type: 'string' },
    standardize: { type: 'string' },
    identities: { type: 'string' },
    shrink: { type: 'string' },
    'cosine-weight': { type: 'string' },
    'relation-weight': { type: 'string' },
    'clip-norm': { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    optimizer: { type: 'string' },
    'weight-decay': { type: 'string' },
    momentum: { type: 'string' },
    schedule: { type: 'string' },
    warmup: { type: 'string' },
    'grown-rate': { type: 'string' },
    workers: { type: 'string' },
    out: { type: 'string' },
    'checkpoint-dir': { type: 'string' },
    resume: { type: 'boolean', default: false },
    'init-from': { type: 'string' },
    dtype: { type: 'string' },
    val: { type: 'string' },
    seed: { type: 'string' },
    'no-jitter': { type: 'boolean', default: false },
    'max-images': { type: 'string' },
  },
  strict: true,
});

function number(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n)) fail(`--${name} must be a number, got "${text}"`);
  return n;
}

function fail(message: string): never {
  console.error(`distill: ${message}`);
  process.exit(2);
}

if (!values.out) fail('--out models/<name>.mobileid is required');
const name = path.basename(values.out).replace(/\.mobileid$/, '');
const d = DISTILL_DEFAULTS;
const options: DistillOptions = {
  data: values.data!.split(',').filter(Boolean),
  targets: (values.targets ?? d.targets) as DistillOptions['targets'],
  arch: (values.arch ?? d.arch) as DistillOptions['arch'],
  activation: (values.activation ?? d.activation) as DistillOptions['activation'],
  batchNorm: values['batch-norm']!,
  k: number('k', values.k, d.k),
  nuisanceWeight: number('nuisance-weight', values['nuisance-weight'], d.nuisanceWeight),
  standardize: (values.standardize ?? d.standardize) as DistillOptions['standardize'],
  identities: values.identities,
  shrink: number('shrink', values.shrink, d.shrink),
  cosineWeight: number('cosine-weight', values['cosine-weight'], d.cosineWeight),
  relationWeight: number('relation-weight', values['relation-weight'], d.relationWeight),
  clipNorm: number('clip-norm', values['clip-norm'], d.clipNorm),
  epochs: number('epochs', values.epochs, d.epochs),
  batch: number('batch', values.batch, d.batch),
  lr: number('lr', values.lr, d.lr),
  optimizer: (values.optimizer ?? d.optimizer) as DistillOptions['optimizer'],
  weightDecay: number('weight-decay', values['weight-decay'], d.weightDecay),
  momentum: number('momentum', values.momentum, d.momentum),
  schedule: (values.schedule ?? d.schedule) as DistillOptions['schedule'],
  warmupEpochs: number('warmup', values.warmup, d.warmupEpochs),
  workers: number('workers', values.workers, d.workers),
  out: values.out,
  checkpointDir: values['checkpoint-dir'] ?? path.join('.cache', 'distill', name),
  resume: values.resume!,
  initFrom: values['init-from'],
  grownRate: number('grown-rate', values['grown-rate'], d.grownRate),
  dtype: (values.dtype ?? d.dtype) as DistillOptions['dtype'],
  validationFraction: number('val', values.val, d.validationFraction),
  seed: number('seed', values.seed, d.seed),
  jitter: values['no-jitter'] ? null : d.jitter,
  maxImages: values['max-images'] === undefined ? undefined : number('max-images', values['max-images'], 0),
};

try {
  await runDistillation(options);
} catch (error) {
  if (error instanceof MobileIdError) fail(`${error.name}: ${error.message}`);
  throw error;
}
