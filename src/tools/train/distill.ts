/**
 * Distillation of the MobileID student from the prepared cache: targets (teacher hidden
 * neurons, a selection of them, or the descriptor), data-parallel training with per-epoch
 * validation and checkpoints, then the model file, a JSON log, a loss curve and a report.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Engine } from '../../engine/engine.js';
import type { GraphSpec } from '../../engine/graph.js';
import { encodeModel, type StorageDtype, type Tensor } from '../../engine/model-format.js';
import {
  initWeights, isStudentArchitecture, STUDENT_ACTIVATIONS, STUDENT_ARCHITECTURES, STUDENT_GROWS_FROM, STUDENT_INPUT, studentGraph, type StudentActivation, type StudentArchitecture,
} from '../../face/student-graph.js';
import { HIDDEN_SIZE, type TeacherLabels } from '../data/cache.js';
import { seededRandom } from '../../math/random.js';
import { DEFAULT_JITTER, preprocessCrop, sampleJitter, type JitterOptions } from './augment.js';
import { loadCheckpoint, saveCheckpoint, writeFileAtomic } from './checkpoint.js';
import { PreparedDataset, splitByKey } from './dataset.js';
import { TrainingError } from './errors.js';
import { TrainingNetwork } from './network.js';
import { Optimizer, type OptimizerKind } from './optimizer.js';
import { BatchComputer, type BatchSlot } from './parallel.js';
import { writeTrainingReport } from './report.js';
import type { ScheduleKind, ScheduleOptions } from './schedule.js';
import { checkSchedule } from './schedule.js';
import { foldBatchNorm, withBatchNorm } from './batch-norm.js';
import { scoreNeurons, selectTop, utkFaceAttributes, type NeuronScores } from './selection.js';
import {
  computeIdentityStandardization, computeStandardization, destandardize, exportGraph, foldStandardization, standardizationFromRecord, standardizationRecord, TargetReader, trainingGraph, unfoldStandardization,
  type Standardization, type StandardizationRecord, type StandardizeMode, type TargetKind, type TargetSpec,
} from './targets.js';
import { Trainer } from './trainer.js';
import { calibrateBatchNorm, growWeights, grownRateScale, readModelTensors, readRunLog, runLogOf } from './warm-start.js';

export interface DistillOptions {
  /** Prepared cache directories, one per data set (.cache/prepared/fairface, ...). */
  data: string[];
  targets: TargetKind;
  /** Student layer widths (student-graph.ts): the paper's or the deeper trunk. */
  arch: StudentArchitecture;
  /** Activation of the hidden layers (student-graph.ts): ReLU or PReLU. */
  activation: StudentActivation;
  /** Batch norm after every conv and hidden dense layer, folded into the weights at export (batch-norm.ts). */
  batchNorm: boolean;
  /** Neurons kept with targets 'selected'. */
  k: number;
  /** Weight of the nuisance attribute (age) in the selection score. */
  nuisanceWeight: number;
  /** Target standardisation (see targets.ts): per neuron, one global scale, the within-identity metric, or none (raw). */
  standardize: StandardizeMode;
  /** With standardize 'identity': the --data directory whose sub-folders are identities (e.g. the CelebA identity set). */
  identities?: string;
  /** With standardize 'identity': shrinkage of the within-identity eigenvalues towards their mean (0..1). */
  shrink: number;
  /** Weight of the 1 - cos(output, target) term of the objective (0: squared error only). */
  cosineWeight: number;
  /** Weight of RKD's distance term over each worker's shard of the batch (0: none; network.ts). */
  relationWeight: number;
  /** Largest global gradient norm (0: no clipping). */
  clipNorm: number;
  epochs: number;
  batch: number;
  lr: number;
  optimizer: OptimizerKind;
  weightDecay: number;
  momentum: number;
  schedule: ScheduleKind;
  /** Warm-up length in epochs (may be fractional). */
  warmupEpochs: number;
  workers: number;
  /** Model file to write (models/<name>.mobileid); the log, plot and report go next to it. */
  out: string;
  checkpointDir: string;
  resume: boolean;
  /**
   * Warm start: a checkpoint file of an earlier run of the same network (arch, activation,
   * targets, batch norm), or a model file that distill wrote with its run log beside it
   * (warm-start.ts), whose weights and target standardisation this run starts from, with a fresh
   * optimiser and schedule (e.g. the shipped student trained on for more epochs).
   */
  initFrom?: string;
  /** Learning-rate multiplier of the layers a grown run adds (--init-from a smaller layout; warm-start.ts grownRateScale). */
  grownRate: number;
  dtype: StorageDtype;
  validationFraction: number;
  seed: number;
  /** Photometric jitter of the student crop; null disables it. */
  jitter: JitterOptions | null;
  /** Use only the first N images of the cache (quick trials). */
  maxImages?: number;
  log?: (line: string) => void;
}

export const DISTILL_DEFAULTS: Omit<DistillOptions, 'data' | 'out' | 'checkpointDir'> = {
  targets: 'desc', arch: 'paper', activation: 'relu', batchNorm: false, k: 192, nuisanceWeight: 1, standardize: 'global', shrink: 0.1, cosineWeight: 16, relationWeight: 0, clipNorm: 100, epochs: 30, batch: 128, lr: 1e-3,
  optimizer: 'adam', weightDecay: 5e-4, momentum: 0.9, schedule: 'cosine', warmupEpochs: 1, workers: 2,
  grownRate: 1, resume: false, dtype: 'f16', validationFraction: 0.05, seed: 1, jitter: DEFAULT_JITTER,
};

export interface EpochRecord {
  epoch: number;
  steps: number;
  trainLoss: number;
  validationLoss: number;
  /** 1 - validation loss / loss of predicting the training mean (standardised targets only). */
  validationR2: number | null;
  imagesPerSecond: number;
  /** Mean global gradient norm (before clipping) and share of clipped steps (optional in older logs). */
  gradientNorm?: number;
  clippedSteps?: number;
  seconds: number;
  learningRate: number;
}

/** What a checkpoint records about the run (JSON). */
export interface RunRecord {
  format: 1;
  epoch: number;
  options: Omit<DistillOptions, 'log' | 'resume'>;
  neurons: number[] | null;
  standardization: StandardizationRecord | null;
  selection: { identity: number[]; nuisance: number[]; perAttribute: Record<string, number[]> } | null;
  history: EpochRecord[];
  /** The run this one started from (--init-from): its file, epochs and last validation R^2. */
  warmStart?: { from: string; epochs: number; validationR2: number | null; windowScale: number };
  /** sources: images per prepared directory (absent in older logs). */
  /**
   * windowScale: the student window of the crops (absent in older logs: 1); mixup: the largest mixup
   * probability of its chunks (absent: 0); labels: what the teacher was shown (absent: its chip).
   */
  dataset: { images: number; views: number; train: number; validation: number; sources?: Record<string, number>; windowScale?: number; mixup?: number; labels?: TeacherLabels };
}

export interface DistillResult {
  modelPath: string;
  modelBytes: number;
  logPath: string;
  reportPath: string;
  plotPath: string;
  history: EpochRecord[];
  /** Largest |model file output - training network output| / largest |output| on validation images. */
  exportError: number;
}

/** The options that fix the model's outputs: a resumed run must keep them. */
const MODEL_DEFINING = ['targets', 'arch', 'activation', 'batchNorm', 'k', 'nuisanceWeight', 'standardize', 'identities', 'shrink', 'cosineWeight', 'relationWeight', 'validationFraction', 'seed', 'maxImages'] as const;

export async function runDistillation(options: DistillOptions): Promise<DistillResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  checkOptions(options);
  const dataset = PreparedDataset.open(options.data);
  const imageCount = Math.min(dataset.size, options.maxImages ?? Infinity);
  const keys = dataset.keys.slice(0, imageCount);
  const split = splitByKey(keys, options.validationFraction, options.seed);
  if (split.train.length === 0 || split.validation.length === 0) {
    throw new TrainingError(`${imageCount} images give an empty training or validation split; prepare more data or change --val`);
  }
  log(`data: ${imageCount} images x ${dataset.views} views (${split.train.length} train, ${split.validation.length} validation) from ${options.data.join(', ')}`);

  mkdirSync(options.checkpointDir, { recursive: true });
  const checkpointPath = path.join(options.checkpointDir, 'checkpoint.bin');
  const checkpoint = options.resume ? loadCheckpoint<RunRecord>(checkpointPath, log) : null;
  if (options.resume && !checkpoint) log(`no usable checkpoint in ${options.checkpointDir}: ${options.initFrom ? `starting from ${options.initFrom}` : 'starting from scratch'}`);
  if (checkpoint) checkResumable(checkpoint.meta, options);
  const start = !checkpoint && options.initFrom ? loadWarmStart(options.initFrom, options, log) : null;

  // targets: which neurons, and their standardisation over the training split
  let neurons: number[] | null = checkpoint?.meta.neurons ?? start?.meta.neurons ?? null;
  let selection: NeuronScores | null = null;
  if (options.targets === 'selected' && !neurons) {
    selection = selectIdentityNeurons(dataset, keys, split.train, options.k, options.nuisanceWeight);
    neurons = selectTop(selection.score, options.k);
    log(`selected ${neurons.length} of ${HIDDEN_SIZE} hidden neurons (identity eta2 ${mean(neurons.map((j) => selection!.identity[j])).toFixed(4)} vs ${mean(Array.from(selection.identity)).toFixed(4)} over all)`);
  }
  const spec: TargetSpec = { kind: options.targets, neurons: neurons ?? undefined };
  // a warm start keeps the standardisation its last layer was trained for, unless this run changes it
  const saved = (checkpoint ?? start)?.meta.standardization;
  const savedStandardization = saved ? standardizationFromRecord(saved) : null;
  const restandardized = !checkpoint && start !== null && start.restandardized;
  let standardization: Standardization | null = restandardized ? null : savedStandardization;
  if (options.standardize !== 'none' && !standardization) {
    const raw = new TargetReader(dataset, spec, null);
    standardization = options.standardize === 'identity'
      ? computeIdentityStandardization(raw, split.train, dataset.views, identityOfKey(keys, options), options.shrink)
      : computeStandardization(raw, split.train, dataset.views, options.standardize);
  }
  const reader = new TargetReader(dataset, spec, standardization);
  const outputs = reader.size;

  const layers = { arch: options.arch, activation: options.activation };
  const graphOf = (arch: StudentArchitecture) => trainingGraph(outputs, spec, options.standardize !== 'none', { ...layers, arch });
  const graph = graphOf(options.arch);
  const computer = await BatchComputer.create({
    graph, tensors: initialWeights(graph, options.seed, options.batchNorm), maxBatch: options.batch, workers: options.workers,
    cosineWeight: options.cosineWeight, relationWeight: options.relationWeight, batchNorm: options.batchNorm,
  });
  try {
    const grownFrom = STUDENT_GROWS_FROM[options.arch];
    const grown = options.grownRate !== 1 && grownFrom
      ? grownRateScale(graphOf(grownFrom), computer.layout, options.batchNorm, options.grownRate)
      : null;
    if (grown) log(`learning rate x${options.grownRate} for the grown tensors ${grown.tensors.join(', ')}`);
    const optimizer = new Optimizer(computer.layout.size, {
      kind: options.optimizer, weightDecay: options.weightDecay, momentum: options.momentum, decayMask: computer.layout.decayMask(), rateScale: grown?.scale,
    });
    if (checkpoint || start) {
      let weights = checkpoint?.weights ?? start!.weights ?? await unfoldModelFile(start!.model!, graph, exportGraph(outputs, spec, layers), options.batchNorm, standardization, computer, dataset, split.train);
      if (!checkpoint && start?.grownFrom) {
        const grown = growWeights(graphOf(start.grownFrom), weights, graph, initialWeights(graph, options.seed, options.batchNorm), options.batchNorm);
        log(`grown from the ${start.grownFrom} layout: ${grown.copied} tensors copied, new layers ${grown.added.join(', ')} (residual branches start at zero)`);
        weights = computer.layout.flatten(grown.tensors);
      }
      if (!checkpoint && start?.weights && restandardized) {
        // the last layer from the start's units into this run's, through teacher-scale ones
        let tensors = computer.layout.tensors(weights);
        if (savedStandardization) tensors = foldStandardization(graph, tensors, savedStandardization);
        weights = computer.layout.flatten(standardization ? unfoldStandardization(graph, tensors, standardization) : tensors);
        log(`target standardisation changed from the start's (${start.meta.options.standardize}) to ${options.standardize}: last layer converted`);
      }
      if (weights.length !== computer.weights.length) {
        throw new TrainingError(`the checkpoint holds ${weights.length} weights, the network ${computer.weights.length}`);
      }
      computer.weights.set(weights);
      computer.weightsChanged();
      if (checkpoint) optimizer.restore(checkpoint.optimizer);
      if (start?.model) {
        const difference = await checkExport(start.model.bytes, graph, computer, dataset, split.validation, standardization, spec.kind !== 'desc', options.batchNorm);
        log(`training network vs ${start.model.file} on validation crops: max relative difference ${difference.toExponential(2)}`);
      }
    }
    const stepsPerEpoch = Math.ceil(split.train.length / options.batch);
    const schedule: ScheduleOptions = {
      kind: options.schedule, baseRate: options.lr, totalSteps: options.epochs * stepsPerEpoch,
      warmupSteps: Math.round(options.warmupEpochs * stepsPerEpoch),
    };
    checkSchedule(schedule);
    const trainer = new Trainer(computer, optimizer, schedule, options.clipNorm);
    const preprocess = studentGraph().preprocess!;
    const inputSize = STUDENT_INPUT[0] * STUDENT_INPUT[1] * STUDENT_INPUT[2];
    const history = checkpoint?.meta.history ?? [];
    const warmStart: RunRecord['warmStart'] = checkpoint?.meta.warmStart ?? (start ? {
      from: options.initFrom!, epochs: start.meta.epoch, validationR2: start.meta.history.at(-1)?.validationR2 ?? null,
      windowScale: start.meta.dataset.windowScale ?? 1,
    } : undefined);
    const record = (epoch: number): RunRecord => ({
      format: 1, epoch, options: withoutCallbacks(options), neurons,
      standardization: standardization && standardizationRecord(standardization),
      selection: checkpoint?.meta.selection ?? (selection && {
        identity: Array.from(selection.identity), nuisance: Array.from(selection.nuisance),
        perAttribute: Object.fromEntries(Object.entries(selection.perAttribute).map(([a, v]) => [a, Array.from(v)])),
      }),
      history,
      warmStart,
      dataset: {
        images: imageCount, views: dataset.views, train: split.train.length, validation: split.validation.length,
        sources: countSources(keys, options.data), windowScale: dataset.windowScale, mixup: dataset.mixup, labels: dataset.labels,
      },
    });
    /** Export after `epochs` epochs: batch norm folded into the layers, the standardisation into the last one; the model file and its run log. */
    const writeModelFile = (epochs: number): Uint8Array => {
      let tensors = computer.layout.tensors(computer.weights);
      if (options.batchNorm) tensors = foldBatchNorm(graph, tensors);
      if (standardization) tensors = foldStandardization(graph, tensors, standardization);
      const finalGraph = {
        ...exportGraph(outputs, spec, layers),
        name: path.basename(options.out).replace(/\.mobileid$/, ''),
        meta: {
          distilled: {
            teacher: 'dlib ResNet (face-api)', targets: options.targets, neurons, epochs, validationLoss: history.at(-1)?.validationLoss ?? null,
            windowScale: dataset.windowScale,
          },
        },
      };
      const bytes = encodeModel(finalGraph, tensors, { dtype: options.dtype });
      mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
      writeFileAtomic(options.out, bytes);
      writeFileAtomic(runLogOf(options.out), JSON.stringify(record(epochs), null, 1));
      return bytes;
    };
    log(`training ${outputs} outputs (${options.targets}, standardised: ${options.standardize}, cosine weight ${options.cosineWeight}${options.relationWeight ? `, relation weight ${options.relationWeight}` : ''}${options.batchNorm ? ', batch norm' : ''}${options.activation === 'prelu' ? ', PReLU' : ''}), ${computer.layout.size} parameters, ${options.epochs} epochs x ${stepsPerEpoch} steps of ${options.batch}, ${options.optimizer} lr ${options.lr} (${options.schedule}), ${computer.workers} worker(s)`);

    // validation batches: every (image, view) pair, plain crops
    const validationPairs = split.validation.length * dataset.views;
    const fillValidation = (slot: BatchSlot, index: number) => {
      const first = index * options.batch;
      const count = Math.min(options.batch, validationPairs - first);
      for (let i = 0; i < count; i++) {
        const pair = first + i;
        const image = split.validation[Math.floor(pair / dataset.views)];
        const view = pair % dataset.views;
        preprocessCrop(dataset.crop(image, view), preprocess, slot.input, i * inputSize);
        reader.fill(image, view, slot.targets, i * outputs);
      }
      return count;
    };

    for (let epoch = checkpoint?.meta.epoch ?? 0; epoch < options.epochs; epoch++) {
      const random = seededRandom((options.seed * 1_000_003 + epoch * 7919) >>> 0);
      const order = shuffled(split.train, random);
      const fillTraining = (slot: BatchSlot, index: number) => {
        const first = index * options.batch;
        const count = Math.min(options.batch, order.length - first);
        for (let i = 0; i < count; i++) {
          const image = order[first + i];
          const view = Math.floor(random() * dataset.views);
          const jitter = options.jitter ? sampleJitter(random, options.jitter) : undefined;
          preprocessCrop(dataset.crop(image, view), preprocess, slot.input, i * inputSize, jitter);
          reader.fill(image, view, slot.targets, i * outputs);
        }
        return count;
      };
      const started = performance.now();
      let lossSum = 0;
      let images = 0;
      let normSum = 0;
      let clipped = 0;
      let steps = 0;
      let lastRate = options.lr;
      let lastPrint = started;
      await trainer.train(stepsPerEpoch, fillTraining, (step) => {
        lossSum += step.loss * step.images;
        normSum += step.gradientNorm;
        if (options.clipNorm > 0 && step.gradientNorm > options.clipNorm) clipped++;
        steps++;
        images += step.images;
        lastRate = step.learningRate;
        const now = performance.now();
        const inEpoch = step.step - epoch * stepsPerEpoch;
        if (now - lastPrint > 10_000 || inEpoch === stepsPerEpoch) {
          lastPrint = now;
          const lastValidation = history.at(-1)?.validationLoss;
          log(`epoch ${epoch + 1}/${options.epochs} step ${inEpoch}/${stepsPerEpoch} loss ${(lossSum / images).toFixed(4)} val ${lastValidation === undefined ? '-' : lastValidation.toFixed(4)} lr ${step.learningRate.toExponential(2)} ${(images / ((now - started) / 1000)).toFixed(1)} img/s`);
        }
      });
      const trainSeconds = (performance.now() - started) / 1000;
      const validation = await trainer.evaluate(Math.ceil(validationPairs / options.batch), fillValidation);
      const entry: EpochRecord = {
        epoch: epoch + 1,
        steps: optimizer.steps,
        trainLoss: lossSum / images,
        validationLoss: validation.loss,
        validationR2: standardization ? 1 - validation.loss / (outputs / 2) : null,
        imagesPerSecond: images / trainSeconds,
        gradientNorm: normSum / steps,
        clippedSteps: clipped / steps,
        seconds: (performance.now() - started) / 1000,
        learningRate: lastRate,
      };
      history.push(entry);
      log(`epoch ${epoch + 1}/${options.epochs} train loss ${entry.trainLoss.toFixed(4)} val loss ${entry.validationLoss.toFixed(4)}${entry.validationR2 === null ? '' : ` (R2 ${entry.validationR2.toFixed(3)})`} ${entry.imagesPerSecond.toFixed(1)} img/s, gradient norm ${entry.gradientNorm!.toFixed(2)} (${(100 * entry.clippedSteps!).toFixed(0)}% clipped) ${entry.seconds.toFixed(0)} s`);
      saveCheckpoint(checkpointPath, { meta: record(epoch + 1), weights: computer.weights, optimizer: optimizer.state() });
      // the model file and run log after every epoch: a stopped run's weights outlive its checkpoint (--init-from the file)
      writeModelFile(epoch + 1);
      log(`epoch ${epoch + 1}/${options.epochs}: wrote ${options.out} and its run log`);
    }

    const bytes = writeModelFile(options.epochs);
    if (options.dtype === 'f16' && outputs <= 422 && bytes.length > 2.4e6) log(`warning: model file is ${bytes.length} bytes (> 2.4 MB)`);
    const exportError = await checkExport(bytes, graph, computer, dataset, split.validation, standardization, spec.kind !== 'desc', options.batchNorm);
    log(`wrote ${options.out} (${bytes.length} bytes, ${options.dtype}); model file vs training network on validation crops: max relative difference ${exportError.toExponential(2)}`);

    const base = options.out.replace(/\.mobileid$/, '');
    const logPath = runLogOf(options.out);
    const { reportPath, plotPath } = writeTrainingReport(base, record(options.epochs), { modelPath: options.out, modelBytes: bytes.length, exportError });
    log(`wrote ${logPath}, ${plotPath}, ${reportPath}`);
    return { modelPath: options.out, modelBytes: bytes.length, logPath, reportPath, plotPath, history, exportError };
  } finally {
    await computer.close();
  }
}

function checkOptions(o: DistillOptions): void {
  const positiveInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new TrainingError(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt('epochs', o.epochs);
  positiveInt('batch', o.batch);
  if (!isStudentArchitecture(o.arch)) throw new TrainingError(`arch must be ${STUDENT_ARCHITECTURES.join(' or ')}, got ${o.arch}`);
  if (!STUDENT_ACTIVATIONS.includes(o.activation)) throw new TrainingError(`activation must be ${STUDENT_ACTIVATIONS.join(' or ')}, got ${o.activation}`);
  if (!['hidden', 'desc', 'selected'].includes(o.targets)) throw new TrainingError(`targets must be hidden, desc or selected, got ${o.targets}`);
  if (o.targets === 'selected') positiveInt('k', o.k);
  if (o.targets === 'selected' && o.k > HIDDEN_SIZE) throw new TrainingError(`k must be at most ${HIDDEN_SIZE}, got ${o.k}`);
  if (!['adam', 'sgd'].includes(o.optimizer)) throw new TrainingError(`optimizer must be adam or sgd, got ${o.optimizer}`);
  if (!['cosine', 'step'].includes(o.schedule)) throw new TrainingError(`schedule must be cosine or step, got ${o.schedule}`);
  if (!['f16', 'q8', 'f32'].includes(o.dtype)) throw new TrainingError(`dtype must be f16, q8 or f32, got ${o.dtype}`);
  if (!(o.grownRate >= 0) || !Number.isFinite(o.grownRate)) throw new TrainingError(`grown rate must be a finite number >= 0, got ${o.grownRate}`);
  if (o.grownRate !== 1 && (!STUDENT_GROWS_FROM[o.arch] || !o.initFrom)) {
    throw new TrainingError(`grown rate applies to a run grown from a smaller layout (--init-from its checkpoint, --arch ${Object.keys(STUDENT_GROWS_FROM).join(' or ')})`);
  }
    if (!(o.warmupEpochs >= 0)) throw new TrainingError(`warm-up must be >= 0 epochs, got ${o.warmupEpochs}`);
  if (!o.out.endsWith('.mobileid')) throw new TrainingError(`--out must name a .mobileid file, got ${o.out}`);
  if (!['neuron', 'global', 'identity', 'none'].includes(o.standardize)) throw new TrainingError(`standardize must be neuron, global, identity or none, got ${o.standardize}`);
  if (o.standardize === 'identity') {
    if (o.targets !== 'desc') throw new TrainingError(`standardize identity applies to descriptor targets, not ${o.targets}`);
    if (!o.identities || !o.data.includes(o.identities)) throw new TrainingError(`standardize identity needs --identities naming one of the --data directories (its sub-folders are identities), got ${o.identities ?? 'none'}`);
    if (!(o.shrink >= 0 && o.shrink <= 1)) throw new TrainingError(`shrink must be in 0..1, got ${o.shrink}`);
  } else if (o.identities !== undefined) {
    throw new TrainingError(`--identities applies to standardize identity, not ${o.standardize}`);
  }
  if (!(o.cosineWeight >= 0)) throw new TrainingError(`cosine weight must be >= 0, got ${o.cosineWeight}`);
  if (!(o.relationWeight >= 0)) throw new TrainingError(`relation weight must be >= 0, got ${o.relationWeight}`);
  if (!(o.clipNorm >= 0)) throw new TrainingError(`gradient clipping norm must be >= 0, got ${o.clipNorm}`);
  for (const dir of o.data) if (!existsSync(dir)) throw new TrainingError(`no prepared data at ${dir} (run npm run prepare-data first)`);
}

/** The first of `keys` whose value in the checkpoint's run differs from `options`, as a phrase; null when none. */
function changedOption(meta: RunRecord, options: DistillOptions, keys: readonly (typeof MODEL_DEFINING)[number][]): string | null {
  for (const key of keys) {
    // checkpoints written before an option existed were trained with its default
    const before = meta.options[key] ?? (DISTILL_DEFAULTS as Partial<DistillOptions>)[key];
    if (before !== options[key]) return `${key} = ${before}, now ${options[key]}`;
  }
  return null;
}

function checkResumable(meta: RunRecord, options: DistillOptions): void {
  if (meta.format !== 1) throw new TrainingError(`checkpoint format ${meta.format} is not supported`);
  const changed = changedOption(meta, options, MODEL_DEFINING);
  if (changed) throw new TrainingError(`cannot resume: the checkpoint was trained with ${changed}`);
}

/** A model file read once: its bytes serve both the unfolding and the check against the training network. */
interface ModelFileBytes {
  file: string;
  bytes: Uint8Array;
}

/** Where a warm start's weights come from: a checkpoint's vector, or a model file to unfold (warm-start.ts). */
interface WarmStart {
  meta: RunRecord;
  weights?: Float32Array;
  model?: ModelFileBytes;
  /** The checkpoint's layout, when this run's extends it (STUDENT_GROWS_FROM). */
  grownFrom?: StudentArchitecture;
  /** This run standardises its targets otherwise than the start did (its last layer is converted). */
  restandardized: boolean;
}

/**
 * The run named by --init-from, checked to hold the same network and targets: a checkpoint.bin,
 * or a model file written by distill with its run log (<name>.train.json) beside it.
 */
function loadWarmStart(file: string, options: DistillOptions, log: (line: string) => void): WarmStart {
  const fromModel = file.endsWith('.mobileid');
  let start: WarmStart;
  if (fromModel) {
    const meta = readRunLog(file, '--init-from');
    start = { meta, model: { file, bytes: new Uint8Array(readFileSync(file)) }, restandardized: false };
  } else {
    if (!existsSync(file)) throw new TrainingError(`--init-from: no checkpoint at ${file}`);
    const checkpoint = loadCheckpoint<RunRecord>(file, log);
    if (!checkpoint) throw new TrainingError(`--init-from: ${file} is damaged (see above)`);
    start = { meta: checkpoint.meta, weights: checkpoint.weights, restandardized: false };
  }
  if (start.meta.format !== 1) throw new TrainingError(`--init-from: run format ${start.meta.format} is not supported`);
  // a checkpoint of a smaller layout may be grown into one that extends it
  const fromArch = start.meta.options.arch ?? DISTILL_DEFAULTS.arch;
  const grows = !fromModel && fromArch !== options.arch && STUDENT_GROWS_FROM[options.arch] === fromArch;
  // the standardisation may change between scaled modes of the descriptor (the last layer is converted)
  const fromStandardize = start.meta.options.standardize ?? DISTILL_DEFAULTS.standardize;
  const rescales = options.targets === 'desc' && fromStandardize !== 'none' && options.standardize !== 'none';
  const changed = changedOption(start.meta, options, [...(grows ? [] : ['arch'] as const), 'targets', 'activation', 'batchNorm', 'k', ...(rescales ? [] : ['standardize'] as const)]);
  if (changed) throw new TrainingError(`--init-from: ${file} was trained with ${changed}`);
  if (grows) start.grownFrom = fromArch;
  start.restandardized = changedOption(start.meta, options, ['standardize', 'identities', 'shrink']) !== null;
  const how = fromModel ? `the model file unfolded${options.batchNorm ? `, batch norm calibrated on ${CALIBRATION_IMAGES} training crops` : ''}` : grows ? `weights grown from the ${fromArch} layout` : 'weights';
  log(`warm start from ${file} (${start.meta.epoch} epochs, window ${start.meta.dataset.windowScale ?? 1}): ${how}${start.restandardized ? '' : ' and target standardisation'}; fresh optimiser and schedule`);
  return start;
}

/** View 0 (plain) of each image, preprocessed into one batch. */
function plainCrops(dataset: PreparedDataset, images: ArrayLike<number>, inputSize: number): Float32Array {
  const preprocess = studentGraph().preprocess!;
  const input = new Float32Array(images.length * inputSize);
  for (let i = 0; i < images.length; i++) preprocessCrop(dataset.crop(images[i], 0), preprocess, input, i * inputSize);
  return input;
}

/** Training crops (view 0, spread over the split) on which a model file's batch norm is calibrated. */
const CALIBRATION_IMAGES = 64;

/** A model file's network as a weight vector of the training layout (warm-start.ts). */
async function unfoldModelFile(
  model: ModelFileBytes, graph: GraphSpec, fileGraph: GraphSpec, batchNorm: boolean, standardization: Standardization | null,
  computer: BatchComputer, dataset: PreparedDataset, train: Int32Array,
): Promise<Float32Array> {
  let tensors = readModelTensors(model.bytes, model.file, fileGraph);
  if (standardization) tensors = unfoldStandardization(graph, tensors, standardization);
  if (batchNorm) {
    const count = Math.min(CALIBRATION_IMAGES, train.length);
    const input = plainCrops(dataset, Array.from({ length: count }, (_, i) => train[Math.floor((i * train.length) / count)]), computer.inputSize);
    const engine = await Engine.create();
    try {
      tensors = calibrateBatchNorm(engine, graph, tensors, input, count);
    } finally {
      engine.dispose();
    }
  }
  return computer.layout.flatten(tensors);
}

function withoutCallbacks(options: DistillOptions): RunRecord['options'] {
  const { log: _log, resume: _resume, ...rest } = options;
  return rest;
}

/** Gender/race (identity) vs age (nuisance) scores of the hidden neurons on view 0 of the training split. */
function selectIdentityNeurons(dataset: PreparedDataset, keys: string[], train: Int32Array, k: number, nuisanceWeight: number): NeuronScores {
  const features = new Float32Array(train.length * HIDDEN_SIZE);
  train.forEach((image, i) => dataset.teacher('hidden', image, 0, features, i * HIDDEN_SIZE));
  const attributes = utkFaceAttributes(Array.from(train, (image) => keys[image]));
  const labelled = attributes[0].labels.filter((l) => l >= 0).length;
  if (labelled < Math.max(10, k)) {
    throw new TrainingError(`neuron selection needs UTKFace keys (<age>_<gender>_<race>_<date>.jpg); only ${labelled} of ${train.length} training keys parse`);
  }
  return scoreNeurons(features, HIDDEN_SIZE, attributes, nuisanceWeight);
}

/**
 * The written model file against the training network on a few validation crops: the file's
 * outputs must equal the network's, de-standardised (and clamped at 0 under a final ReLU), up
 * to the storage precision. Returns max |difference| / max |output|.
 */
async function checkExport(
  bytes: Uint8Array, graph: GraphSpec, computer: BatchComputer, dataset: PreparedDataset, images: Int32Array,
  standardization: Standardization | null, finalRelu: boolean, batchNorm: boolean,
): Promise<number> {
  const count = Math.min(images.length, 16);
  const input = plainCrops(dataset, images.subarray(0, count), computer.inputSize);
  const engine = await Engine.create();
  try {
    const fromFile = engine.loadModel(bytes, { batch: count }).run(input, count);
    // batch norm in eval mode: the running statistics the export folded in
    const trained = new TrainingNetwork(engine, graph, computer.layout.tensors(computer.weights), count, { batchNorm }).forward(input, count);
    const outputs = trained.length / count;
    if (standardization) for (let at = 0; at < trained.length; at += outputs) destandardize(standardization, trained, at);
    let diff = 0;
    let scale = 1e-12;
    for (let i = 0; i < trained.length; i++) {
      const expected = finalRelu ? Math.max(0, trained[i]) : trained[i];
      diff = Math.max(diff, Math.abs(fromFile[i] - expected));
      scale = Math.max(scale, Math.abs(expected));
    }
    return diff / scale;
  } finally {
    engine.dispose();
  }
}

/**
 * He-uniform weights (initWeights; with batch norm its identity tensors), with the regression head scaled down 10x: the first
 * predictions are then close to 0, i.e. to the (standardised) target mean, instead of large
 * random values that the first hundred steps would only spend undoing.
 */
function initialWeights(graph: GraphSpec, seed: number, batchNorm: boolean): Map<string, Tensor> {
  const tensors = batchNorm ? withBatchNorm(graph, initWeights(graph, seed)) : initWeights(graph, seed);
  const head = graph.layers[graph.layers.length - 1];
  if (head.op === 'dense') {
    for (const name of [head.weights, head.bias]) if (name) tensors.get(name)!.data.forEach((v, i, a) => (a[i] = v * 0.1));
  }
  return tensors;
}

/** The identity of each image of the --identities directory (its first sub-folder), null for the other sets' images. */
function identityOfKey(keys: string[], options: DistillOptions): (image: number) => string | null {
  const prefix = options.data.length > 1 ? `${path.basename(path.resolve(options.identities!))}/` : '';
  return (image) => {
    const key = keys[image];
    if (!key.startsWith(prefix)) return null;
    const slash = key.indexOf('/', prefix.length);
    return slash > prefix.length ? key.slice(0, slash) : null;
  };
}

/** Images per source directory (keys carry the folder name when there are several). */
function countSources(keys: string[], dirs: string[]): Record<string, number> {
  if (dirs.length === 1) return { [path.basename(path.resolve(dirs[0]))]: keys.length };
  const counts: Record<string, number> = {};
  for (const key of keys) {
    const source = key.split('/')[0];
    counts[source] = (counts[source] ?? 0) + 1;
  }
  return counts;
}

function shuffled(values: Int32Array, random: () => number): Int32Array {
  const out = values.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
