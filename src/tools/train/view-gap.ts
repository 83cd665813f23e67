/**
 * Does a student memorise its view bank? The validation loss of a distillation run is higher than
 * its training loss; this splits the gap in two. The student's loss (distill's squared-error part,
 * in its standardised units) is measured on the bank's views of training images, on fresh
 * jittered views of the same images (drawn as the bank's are, with seeds no bank uses, and
 * labelled by the teacher now), and on the bank's views of validation images:
 *   fresh - bank (same images, both jittered) = what it learnt of the bank's particular views;
 *   validation - fresh (jittered views)       = what it learnt of the particular training faces.
 * A large first part says more views per face would help (prepare-data --extend); a large second
 * part, more faces. The validation row over all views is distill's own validation loss and is
 * checked against the run log. One more row puts the student's loss in proportion: the teacher
 * itself run on the student's crops of the sampled training images (their jittered bank views,
 * upsampled into its chip, as eval-lfw --model teacher-on-crops does), scored against its own
 * targets from the full-resolution photo. A loss well below the student's says the crop holds
 * more of the target than the student reads from it (capacity); a loss near it, that the crop's
 * resolution limits the student.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadBundledModel } from '../../engine/assets.js';
import { Engine } from '../../engine/engine.js';
import { teacherChipInStudentCrop } from '../../face/align.js';
import { LandmarkNet, StudentNet, TeacherNet } from '../../face/networks.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from '../../face/student-graph.js';
import { decodeImage, type RgbImage } from '../../image.js';
import { mean, standardError } from '../../math/stats.js';
import { DESCRIPTOR_SIZE } from '../data/cache.js';
import { FacePreparer, PROFILES, type DatasetName, type LandmarkedImage } from '../data/prepare.js';
import { imagesDirOf, listImages } from '../data/sources.js';
import { PreparedDataset, splitByKey } from './dataset.js';
import { TrainingError } from './errors.js';
import { readRunLog } from './warm-start.js';
import { standardizationFromRecord, standardize, type Standardization } from './targets.js';

export interface ViewGapOptions {
  /** A model file distill wrote, with its run log (<name>.train.json) beside it. */
  model: string;
  /** The shared data folder (UTKFace, CelebA) and FairFace's own folder: fresh views are cut from the photos. */
  dataRoot: string;
  fairface: string;
  /** Training images to draw fresh views of (spread evenly over the training split). */
  images: number;
  /**
   * Banks of the same sets to measure on instead of the run's own (one folder per set, named as
   * the run's), e.g. a model trained on a 12-view bank measured on the 8-view one; the split is the run's.
   */
  banks?: string[];
  log?: (line: string) => void;
}

export interface LossRow {
  images: number;
  /** Views per image. */
  views: number;
  /** Mean over (image, view) of 1/2 sum_j ((y_j - t_j) / s_j)^2: distill's squared-error loss. */
  loss: number;
  /** Its standard error over images. */
  se: number;
}

export interface ViewGapReport {
  model: string;
  data: string[];
  training: { bankAll: LossRow; bankJittered: LossRow; fresh: LossRow; teacherOnCrops: LossRow };
  validation: { bankAll: LossRow; bankJittered: LossRow };
  /** Fresh minus bank jittered loss on the same training images: mean and standard error over images. */
  freshMinusBank: { mean: number; se: number };
  /** Validation minus fresh loss (jittered views; different images, so the errors add). */
  validationMinusFresh: { mean: number; se: number };
  /** The run log's last validation loss (on the run's own banks the validation bankAll row recomputes it from the model file). */
  reportedValidationLoss: number;
  /** Whether the banks measured on are the ones the run was trained on. */
  ownBanks: boolean;
}

/** Mixup partners and jitter of the fresh views come from seeds above any image number prepare-data uses. */
const FRESH_SEED = 2 ** 30;
/** Views 0 and 1 of a bank are the plain crop and its mirror; the jittered ones follow. */
const FIRST_JITTERED_VIEW = 2;
const BATCH = 64;

export async function measureViewGap(options: ViewGapOptions): Promise<ViewGapReport> {
  const log = options.log ?? (() => {});
  const run = readRunLog(options.model, 'view-gap');
  if (run.options.targets !== 'desc') throw new TrainingError(`view-gap: ${options.model} regresses ${run.options.targets} targets; it measures descriptor students`);
  if (!run.standardization) throw new TrainingError(`view-gap: ${options.model} was trained without target standardisation`);
  if (!Number.isInteger(options.images) || options.images < 2) throw new TrainingError(`view-gap: images must be an integer >= 2, got ${options.images}`);
  // the loss in the run's standardised units: the difference as a direction (no mean)
  const units: Standardization = { ...standardizationFromRecord(run.standardization), mean: new Float32Array(DESCRIPTOR_SIZE) };
  const trainedOn = [run.options.data].flat();
  const data = options.banks ?? trainedOn;
  const names = data.map((d) => path.basename(path.resolve(d)));
  const trainedNames = trainedOn.map((d) => path.basename(path.resolve(d)));
  if (names.join() !== trainedNames.join()) throw new TrainingError(`view-gap: the banks must be of the sets the run was trained on, in its order (${trainedNames.join(', ')}), got ${names.join(', ')}`);
  for (const name of names) if (!(name in PROFILES) || name === 'lfw') throw new TrainingError(`view-gap: ${name} is not a training set (its folder must be named utkface, fairface or celeba)`);

  const dataset = PreparedDataset.open(data);
  if (dataset.views < 3) throw new TrainingError(`view-gap: the bank has ${dataset.views} views; it needs jittered ones (prepare-data --views >= 3)`);
  const keys = dataset.keys.slice(0, Math.min(dataset.size, run.options.maxImages ?? Infinity));
  const split = splitByKey(keys, run.options.validationFraction, run.options.seed);
  const sampled = Math.min(options.images, split.train.length);
  const sample = Array.from({ length: sampled }, (_, k) => split.train[Math.floor((k * split.train.length) / sampled)]);

  const engine = await Engine.create();
  try {
    const student = new StudentNet(engine.loadModel(new Uint8Array(readFileSync(options.model)), { batch: BATCH }));
    if (student.windowScale !== dataset.windowScale) throw new TrainingError(`view-gap: ${options.model} was trained on window ${student.windowScale}, the bank is cut with ${dataset.windowScale}`);
    const teacher = new TeacherNet(engine.loadModel(await loadBundledModel('teacher')));
    const chipInCrop = teacherChipInStudentCrop(dataset.windowScale);
    type Embed = (batch: RgbImage[]) => Float32Array;
    const byStudent: Embed = (batch) => student.embedCrops(batch);
    const byTeacher: Embed = (batch) => teacher.embedChips(batch.map((image) => ({ image, chipToImage: chipInCrop }))).descriptor;
    const loss = (crops: Uint8Array[], targets: Float32Array[], embed = byStudent): number[] => {
      const out: number[] = [];
      for (let first = 0; first < crops.length; first += BATCH) {
        const batch = crops.slice(first, first + BATCH).map((crop) => ({ width: STUDENT_CROP_WIDTH, height: STUDENT_CROP_HEIGHT, data: crop }));
        const y = embed(batch);
        batch.forEach((_, i) => {
          const t = targets[first + i];
          const difference = y.slice(i * DESCRIPTOR_SIZE, (i + 1) * DESCRIPTOR_SIZE).map((v, j) => v - t[j]);
          standardize(units, difference);
          out.push(difference.reduce((s, d) => s + d * d, 0) / 2);
        });
      }
      return out;
    };
    const jittered = dataset.views - FIRST_JITTERED_VIEW;
    /** Per image, its loss on each bank view from `firstView` on. */
    const bankLoss = (images: ArrayLike<number>, embed = byStudent, firstView = 0): number[][] => {
      const crops: Uint8Array[] = [];
      const targets: Float32Array[] = [];
      const views = dataset.views - firstView;
      for (const image of Array.from(images)) {
        for (let v = firstView; v < dataset.views; v++) {
          crops.push(dataset.crop(image, v));
          const t = new Float32Array(DESCRIPTOR_SIZE);
          dataset.teacher('desc', image, v, t);
          targets.push(t);
        }
      }
      const each = loss(crops, targets, embed);
      return Array.from(images, (_, i) => each.slice(i * views, (i + 1) * views));
    };
    const allViews = (perView: number[][]) => perView.map(mean);
    const jitteredViews = (perView: number[][]) => perView.map((l) => mean(l.slice(FIRST_JITTERED_VIEW)));

    log(`bank views: ${split.validation.length} validation and ${sample.length} training images x ${dataset.views} views`);
    const validation = bankLoss(split.validation);
    const training = bankLoss(sample);
    const trainingJittered = jitteredViews(training);

    log(`the teacher on the student's crops: ${sample.length} training images x ${jittered} views`);
    const teacherOnCrops = allViews(bankLoss(sample, byTeacher, FIRST_JITTERED_VIEW));

    log(`fresh views: ${sample.length} training images x ${jittered} views, labelled by the teacher`);
    const preparer = new FacePreparer(new LandmarkNet(engine.loadModel(await loadBundledModel('landmarks68'))), teacher, dataset.windowScale);
    const files = new Map<string, Map<string, string>>();
    const partners = new Map<string, LandmarkedImage>();
    const fresh = sample.map((image, k) => {
      const prefixed = dataset.keys[image];
      const name = names.length > 1 ? prefixed.slice(0, prefixed.indexOf('/')) : names[0];
      const key = names.length > 1 ? prefixed.slice(name.length + 1) : prefixed;
      if (!files.has(name)) files.set(name, new Map(listImages(name as DatasetName, imagesDirOf(name as DatasetName, options.dataRoot, options.fairface)).map((f) => [f.key, f.file])));
      const file = files.get(name)!.get(key);
      if (!file || !existsSync(file)) throw new TrainingError(`view-gap: the photo of ${prefixed} is not under ${imagesDirOf(name as DatasetName, options.dataRoot, options.fairface)}`);
      const profile = { ...PROFILES[name as DatasetName], views: dataset.views, mixup: dataset.mixup };
      // the partner of a mixup view: the previous sampled face of the same set, as a bank's is the previous face of its chunk
      const prepared = preparer.prepare(decodeImage(new Uint8Array(readFileSync(file))), profile, FRESH_SEED + k, partners.get(name), FIRST_JITTERED_VIEW);
      partners.set(name, prepared);
      return mean(loss(prepared.views.map((v) => v.crop), prepared.views.map((v) => v.descriptor)));
    });

    const differences = fresh.map((f, i) => f - trainingJittered[i]);
    const row = (values: number[], views: number): LossRow => ({ images: values.length, views, loss: mean(values), se: standardError(values) });
    const validationJittered = row(jitteredViews(validation), jittered);
    const freshRow = row(fresh, jittered);
    return {
      model: options.model,
      data,
      training: {
        bankAll: row(allViews(training), dataset.views), bankJittered: row(trainingJittered, jittered), fresh: freshRow, teacherOnCrops: row(teacherOnCrops, jittered),
      },
      validation: { bankAll: row(allViews(validation), dataset.views), bankJittered: validationJittered },
      freshMinusBank: { mean: mean(differences), se: standardError(differences) },
      validationMinusFresh: { mean: validationJittered.loss - freshRow.loss, se: Math.hypot(validationJittered.se, freshRow.se) },
      reportedValidationLoss: run.history.at(-1)?.validationLoss ?? Number.NaN,
      ownBanks: data.every((d, i) => path.resolve(d) === path.resolve(trainedOn[i])),
    };
  } finally {
    engine.dispose();
  }
}
