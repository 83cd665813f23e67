/**
 * mobileid eval-lfw: LFW View 2: for each of the 10 folds the verifier (PCA / Joint Bayesian) is fitted on all
 * images of the identities of the other 9 folds (or, with --fit-on, on identity-labelled outside
 * data such as the CelebA identity set) and the threshold is chosen on their pairs;
 * the held-out fold is scored once. Features come from the prepared cache (npm run prepare-data):
 * the teacher's stored outputs, or the student run on the stored aligned crops. With --pairs, the
 * same protocol runs on another identity-labelled prepared set and its pair list (e.g. the CelebA
 * identity set and npm run make-pairs' list), for comparison with eval-pairs' photo path.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defineCommand } from '../cli/args.js';
import { CliError } from '../cli/cli-error.js';
import { readModelFile } from '../cli/files.js';
import { ProgressBar } from '../cli/progress.js';
import { loadBundledModel } from '../engine/assets.js';
import { Engine } from '../engine/engine.js';
import { teacherChipInStudentCrop } from '../face/align.js';
import { StudentNet, TeacherNet } from '../face/networks.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from '../face/student-graph.js';
import { createVerifier, type VerifierKind } from '../verify/verifier.js';
import { PreparedDataError, readChunks, readRecord, RECORD_BYTES, windowScaleOf, type PreparedChunk } from './data/cache.js';
import { PairListFormatError, parsePairList, parsePairs, tarAtFar, type ImageKey, type LfwPairs } from '../verify/pairs.js';
import { evaluateLfw, personOfKey, readLfwImageIndex } from './lfw.js';
import { renderLinePlot } from './plot.js';
import type { RgbImage } from '../image.js';

export type MirrorMode = 'average' | 'concat';

/** view-0 and mirrored (view-1) features of every prepared LFW image. */
export async function loadFeatures(
  prepared: string,
  model: string,
  teacherLayer: 'descriptor' | 'hidden',
  only?: Set<ImageKey>,
): Promise<Map<ImageKey, [Float32Array, Float32Array]>> {
  if (model.includes(',')) {
    const each: Map<ImageKey, [Float32Array, Float32Array]>[] = [];
    for (const file of model.split(',')) each.push(await loadFeatures(prepared, file, teacherLayer, only)); // one model in memory at a time
    return averageFeatures(each);
  }
  const chunks = only ? readChunks(prepared).map((c) => keepKeys(c, only)) : readChunks(prepared);
  const windowScale = windowScaleOf(chunks, prepared);
  const total = chunks.reduce((n, c) => n + c.keys.length, 0);
  const features = new Map<ImageKey, [Float32Array, Float32Array]>();
  const bar = new ProgressBar('features', total);
  if (model === 'teacher') {
    for (const chunk of chunks) {
      chunk.keys.forEach((key, i) => {
        const pick = (v: number) => readRecord(chunk, i, v)[teacherLayer].slice();
        features.set(key, [pick(0), pick(1)]);
      });
      bar.tick('', chunk.keys.length);
    }
  } else {
    const engine = await Engine.create();
    try {
      const { batch, embed } = model === 'teacher-on-crops' ? await teacherOnCrops(engine, teacherLayer, windowScale) : await studentOnCrops(engine, model, windowScale, prepared);
      for (const chunk of chunks) {
        for (let start = 0; start < chunk.keys.length; start += batch) {
          const keys = chunk.keys.slice(start, start + batch);
          const crops = keys.map((_, i) => ({ width: STUDENT_CROP_WIDTH, height: STUDENT_CROP_HEIGHT, data: readRecord(chunk, start + i, 0).crop }));
          const plain = embed(crops, false);
          const mirrored = embed(crops, true);
          const dim = plain.length / keys.length;
          keys.forEach((key, i) => features.set(key, [plain.slice(i * dim, (i + 1) * dim), mirrored.slice(i * dim, (i + 1) * dim)]));
          bar.tick('', keys.length);
        }
      }
    } finally {
      engine.dispose();
    }
  }
  bar.done();
  return features;
}

/** The --model values that name a model rather than a file. */
const NAMED_MODELS = ['teacher', 'teacher-on-crops', 'mobileid'];

/** The features of several students averaged per image and view (an ensemble), over the images all of them have. */
function averageFeatures(maps: Map<ImageKey, [Float32Array, Float32Array]>[]): Map<ImageKey, [Float32Array, Float32Array]> {
  const out = new Map<ImageKey, [Float32Array, Float32Array]>();
  for (const key of maps[0].keys()) {
    const all = maps.map((m) => m.get(key));
    if (all.some((f) => !f || f[0].length !== all[0]![0].length)) continue;
    const mean = (view: 0 | 1) => all[0]![view].map((_, j) => all.reduce((sum, f) => sum + f![view][j], 0) / all.length);
    out.set(key, [mean(0), mean(1)]);
  }
  return out;
}

/** Embeds a batch of stored crops (mirrored or not): the batch size and the function. */
interface CropEmbedder {
  batch: number;
  embed(crops: RgbImage[], mirror: boolean): Float32Array;
}

/** The shipped student or a student model file (which must have been trained on crops of the cache's window). */
async function studentOnCrops(engine: Engine, model: string, windowScale: number, prepared: string): Promise<CropEmbedder> {
  const bytes = model === 'mobileid' ? await loadBundledModel('mobileid') : readModelFile('model', model);
  const student = new StudentNet(engine.loadModel(bytes, { batch: 64 }));
  if (student.windowScale !== windowScale) {
    throw new PreparedDataError(`${prepared}: crops cut with window scale ${windowScale}; the student ${model} was trained on ${student.windowScale} (prepare-data --window-scale ${student.windowScale})`);
  }
  return { batch: 64, embed: (crops, mirror) => student.embedCrops(crops, mirror) };
}

/** The teacher on the student's stored crop (cut at `windowScale`), upsampled into its chip (black outside the crop). */
async function teacherOnCrops(engine: Engine, layer: 'descriptor' | 'hidden', windowScale: number): Promise<CropEmbedder> {
  const teacher = new TeacherNet(engine.loadModel(await loadBundledModel('teacher'), { batch: 16 }));
  const chipToImage = teacherChipInStudentCrop(windowScale);
  return { batch: 16, embed: (crops, mirror) => teacher.embedChips(crops.map((image) => ({ image, chipToImage, mirror })))[layer] };
}

/** The chunk with only the records of `keys` (records stay in chunk order). */
function keepKeys(chunk: PreparedChunk, keys: Set<ImageKey>): PreparedChunk {
  const kept = chunk.keys.flatMap((key, i) => (keys.has(key) ? [i] : []));
  const record = RECORD_BYTES * chunk.views;
  const data = new Uint8Array(kept.length * record);
  kept.forEach((i, j) => data.set(chunk.data.subarray(i * record, (i + 1) * record), j * record));
  return { ...chunk, keys: kept.map((i) => chunk.keys[i]), data };
}

export function combine([plain, mirrored]: [Float32Array, Float32Array], mirror: boolean, mode: MirrorMode): Float32Array {
  if (!mirror) return plain;
  if (mode === 'concat') {
    const out = new Float32Array(plain.length * 2);
    out.set(plain);
    out.set(mirrored, plain.length);
    return out;
  }
  return plain.map((v, i) => (v + mirrored[i]) / 2);
}

export const evalLfwCommand = defineCommand(
  {
    name: 'eval-lfw',
    summary: 'LFW View 2 verification accuracy of a model and verifier (needs LFW and npm run prepare-data)',
    args: [],
    description: [
      'For each of the 10 folds the verifier (PCA / Joint Bayesian) is fitted on the identities of the other',
      '9 folds and the threshold chosen on their pairs; the held-out fold is scored once. Features come from',
      'the prepared cache (npm run prepare-data in a checkout). Writes a ROC PNG and a JSON report.',
    ].join('\n'),
    options: {
      data: { type: 'string', default: '../shared/data/lfw', value: 'FOLDER', description: 'the LFW folder (pairs.txt, images/)' },
      model: {
        type: 'string', default: 'mobileid', value: 'mobileid|teacher|teacher-on-crops|FILE[,FILE...]',
        description: "the shipped student, the teacher's stored outputs, the teacher run on the student's 47x55 crops (what the student's input holds), a student model file, or several (comma-separated: their features averaged, an ensemble that shows how much of each student's error is its own)",
      },
      verifier: { type: 'string', default: 'jb', choices: ['jb', 'cosine', 'euclidean'], description: 'Joint Bayesian, cosine or Euclidean' },
      mirror: { type: 'boolean', default: false, description: 'combine each feature with that of the mirrored face' },
      'mirror-mode': { type: 'string', default: 'average', choices: ['average', 'concat'], description: 'how --mirror combines the two features' },
      'teacher-layer': { type: 'string', default: 'descriptor', choices: ['descriptor', 'hidden'], description: "the teacher's 128-d descriptor or 256-d hidden layer" },
      folds: {
        type: 'integer', min: 2, default: 10, value: 'N',
        description: 'use the pairs of the first N folds only (quicker checks of slow models; cross-validation among them)',
      },
      pca: { type: 'integer', min: 1, value: 'N', defaultText: "the verifier's", description: 'PCA dimensions before the verifier' },
      prepared: { type: 'string', default: '.cache/prepared/lfw', value: 'FOLDER', description: 'the prepared LFW cache' },
      pairs: {
        type: 'string', value: 'FILE', defaultText: "LFW's pairs.txt under --data",
        description: "a tab-separated pair list with a '<folds>\\t<pairs per fold>' header over the photos of --prepared (<identity>/<file>.jpg, folds identity-disjoint), e.g. reports/eval-pairs/celeba-pairs.tsv with --prepared .cache/prepared/celeba",
      },
      'fit-on': {
        type: 'string', default: 'lfw', value: 'lfw|FOLDER',
        description: 'fit the verifier on the 9 training folds, or on a prepared identity-labelled cache (<identity>/<file> keys, e.g. .cache/prepared/celeba: outside data)',
      },
      'report-dir': { type: 'string', default: 'reports/lfw', value: 'FOLDER', description: 'where the ROC PNG and the JSON report go' },
      json: { type: 'boolean', default: false, description: 'print the summary as JSON on the last stdout line' },
    },
    examples: [
      'mobileid eval-lfw --verifier cosine --mirror',
      'mobileid eval-lfw --model teacher --verifier jb --json',
      'mobileid eval-lfw --verifier jb --mirror --fit-on .cache/prepared/celeba',
      'mobileid eval-lfw --model teacher --verifier cosine --mirror --prepared .cache/prepared/celeba --pairs reports/eval-pairs/celeba-pairs.tsv',
    ],
  },
  async ({ values }) => {
    const kind = values.verifier as VerifierKind;
    const mode = values['mirror-mode'] as MirrorMode;
    const layer = values['teacher-layer'] as 'descriptor' | 'hidden';
    const model = values.model;
    const files = model.split(',');
    const named = files.find((f) => NAMED_MODELS.includes(f));
    if (files.length > 1 && named) throw new CliError(`--model: an ensemble is a list of student model files; ${named} is not one`);
    for (const file of files) {
      if (!NAMED_MODELS.includes(file) && !existsSync(file)) throw new CliError(`--model: cannot read ${file}: no such file`);
    }
    const pairsFile = values.pairs ?? path.join(values.data, 'pairs.txt');
    if (!existsSync(pairsFile)) {
      throw new CliError(values.pairs ? `--pairs: cannot read ${pairsFile}: no such file` : `${pairsFile} not found: point --data at the LFW folder (see ../shared/data/README.md)`);
    }
    const allPairs = values.pairs ? readKeyedPairList(pairsFile) : parsePairs(readFileSync(pairsFile, 'utf8'));
    const folds = Math.min(values.folds, allPairs.folds);
    const pairs = { ...allPairs, folds, pairs: allPairs.pairs.filter((p) => p.fold < folds) };
    // LFW: every image of its folder; another set: every image of its prepared cache (below)
    const allImages = values.pairs ? undefined : await readLfwImageIndex(path.join(values.data, 'images'));
    // every image of the people in the kept folds' pairs (the verifier is fitted on them)
    const people = new Set(pairs.pairs.flatMap((p) => [p.a, p.b].map(personOfKey)));
    let features: Map<ImageKey, [Float32Array, Float32Array]>;
    let imagesByPerson: Map<string, ImageKey[]>;
    try {
      const only = allImages && folds < allPairs.folds
        ? new Set([...allImages].filter(([person]) => people.has(person)).flatMap(([, keys]) => keys))
        : undefined;
      features = await loadFeatures(values.prepared, model, layer, only);
      imagesByPerson = new Map([...(allImages ?? groupByIdentity(features.keys()))].filter(([person]) => people.has(person)));
    } catch (error) {
      if (error instanceof PreparedDataError) throw new CliError(`${error.message} (npm run prepare-data${values.pairs ? '' : ' -- --dataset lfw'})`);
      throw error;
    }
    const missing = [...imagesByPerson.values()].flat().filter((k) => !features.has(k));
    const missingInPairs = new Set(pairs.pairs.flatMap((p) => [p.a, p.b]).filter((k) => !features.has(k)));
    if (missing.length) {
      console.error(`warning: ${missing.length} LFW images have no prepared features (failed preparation); they are left out of fitting`);
    }
    if (missingInPairs.size) {
      throw new CliError(`${missingInPairs.size} images used by ${path.basename(pairsFile)} have no features: ${[...missingInPairs].slice(0, 5).join(', ')}`);
    }
    const present = new Map([...imagesByPerson].map(([person, keys]) => [person, keys.filter((k) => features.has(k))]));
    const fitOn = values['fit-on'];
    let outsideData: Parameters<typeof evaluateLfw>[0]['outsideData'];
    if (fitOn !== 'lfw') {
      let outside: Map<string, [Float32Array, Float32Array]>;
      try {
        outside = await loadFeatures(fitOn, model, layer);
      } catch (error) {
        if (error instanceof PreparedDataError) throw new CliError(`--fit-on: ${error.message}`);
        throw error;
      }
      const byIdentity = groupByIdentity(outside.keys());
      if (byIdentity.size < 2) throw new CliError(`--fit-on: ${fitOn} holds ${byIdentity.size} identity folder(s); keys must be <identity>/<file>`);
      outsideData = { imagesByPerson: byIdentity, feature: (key) => combine(outside.get(key)!, values.mirror, mode) };
    }
    const pcaDim = values.pca;
    const result = await evaluateLfw({
      pairs,
      imagesByPerson: present,
      feature: (key) => combine(features.get(key)!, values.mirror, mode),
      verifier: () => createVerifier(kind, { pcaDim }),
      outsideData,
      onProgress: (p) => {
        if (p.stage === 'fold') console.error(`fold ${p.fold + 1}/${p.folds}: accuracy ${(p.accuracy * 100).toFixed(2)}% (threshold ${p.threshold.toFixed(4)})`);
      },
    });
    const fitLabel = fitOn === 'lfw' ? '' : `-fit-${path.basename(path.resolve(fitOn))}`;
    const foldLabel = folds < allPairs.folds ? `-${folds}folds` : '';
    const pairsLabel = values.pairs ? `-${path.basename(pairsFile).replace(/\.[^.]*$/, '')}` : '';
    const label = `${files.length > 1 ? `ensemble${files.length}` : path.basename(model).replace(/\.mobileid$/, '')}${model === 'teacher' && layer === 'hidden' ? '-hidden' : ''}-${kind}${values.mirror ? `-mirror-${mode}` : ''}${fitLabel}${foldLabel}${pairsLabel}`;
    const tarAt = (far: number) => tarAtFar(result.roc, far);
    mkdirSync(values['report-dir'], { recursive: true });
    const rocFile = path.join(values['report-dir'], `roc-${label}.png`);
    writeFileSync(rocFile, renderLinePlot({
      width: 640, height: 480, xLabel: 'false positive rate', yLabel: 'true positive rate', xRange: [0, 1], yRange: [0, 1],
      series: [{ points: result.roc, color: '#1f77b4', label: `${label} AUC ${result.auc.toFixed(4)}` }, { points: [[0, 0], [1, 1]], color: '#bbbbbb' }],
    }));
    const summary = {
      model, verifier: kind, mirror: values.mirror ? mode : false, fit_on: fitOn === 'lfw' && values.pairs ? 'folds' : fitOn,
      accuracy_mean: result.accuracyMean, accuracy_se: result.accuracySe, folds: result.folds, auc: result.auc,
      tar_at_far_1e2: tarAt(0.01), tar_at_far_1e3: tarAt(0.001),
      thresholds: result.thresholds,
      roc_png: path.basename(rocFile), // beside the report: a moved report folder keeps its link
    };
    writeFileSync(path.join(values['report-dir'], `${label}.json`), JSON.stringify(summary, null, 1));
    console.error(`${values.pairs ? path.basename(pairsFile) : 'LFW View 2'}, ${label}: ${(result.accuracyMean * 100).toFixed(2)}% +- ${(result.accuracySe * 100).toFixed(2)} (mean +- standard error over ${folds} folds), AUC ${result.auc.toFixed(4)}, true accepts ${(100 * tarAt(0.01)).toFixed(2)}% at 1% false accepts, ${(100 * tarAt(0.001)).toFixed(2)}% at 0.1%; ROC in ${rocFile}`);
    if (values.json) console.log(JSON.stringify(summary));
  },
);

/** Keys (<identity>/<file>) grouped by identity folder. */
function groupByIdentity(keys: Iterable<ImageKey>): Map<string, ImageKey[]> {
  const byIdentity = new Map<string, ImageKey[]>();
  for (const key of keys) {
    const identity = personOfKey(key);
    const list = byIdentity.get(identity);
    if (list) list.push(key);
    else byIdentity.set(identity, [key]);
  }
  return byIdentity;
}

/**
 * A tab-separated pair list with folds (eval-pairs' format) as LFW-style pairs over prepared keys:
 * the photo paths without their extension.
 */
function readKeyedPairList(file: string): LfwPairs {
  let list;
  try {
    list = parsePairList(readFileSync(file, 'utf8'), file);
  } catch (error) {
    if (error instanceof PairListFormatError) throw new CliError(error.message);
    throw error;
  }
  if (list.format !== 'tsv' || list.folds < 2) throw new CliError(`--pairs ${file}: needs a tab-separated list with a '<folds> TAB <pairs per fold>' header of at least 2 folds`);
  const key = (photo: string) => photo.replace(/\.[^./]*$/, '');
  const pairs = list.pairs.map((p) => ({ fold: p.fold, same: p.same, a: key(p.a), b: key(p.b) }));
  return { folds: list.folds, pairsPerClass: Math.round(pairs.length / list.folds / 2), pairs };
}
