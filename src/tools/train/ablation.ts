/**
 * The distillation recipe's ablation at equal budget (npm run ablation, scripts/ablation.ts): each
 * variant changes one thing, and every run gets the same epochs, prepared data, split, seed and
 * schedule, then LFW View 2 with cosine, mirror averaged. This module only plans the runs (the
 * distill and eval-lfw arguments, where the reports go); the script executes them.
 */
import path from 'node:path';
import type { StudentArchitecture } from '../../face/student-graph.js';
import { TrainingError } from './errors.js';

/** The settings the current-recipe variants change, one each. */
interface RecipeSettings {
  arch: StudentArchitecture;
  batchNorm: boolean;
  activation: 'relu' | 'prelu';
  standardize: 'global' | 'neuron';
  cosineWeight: number;
  relationWeight: number;
}

/**
 * Batch norm and ReLU: the recipe of an earlier shipped student (the shipped one adds PReLU
 * and 12 epochs on the view bank), the baseline every current-recipe variant departs from.
 */
const BASELINE_RECIPE: RecipeSettings = { arch: 'deep', batchNorm: true, activation: 'relu', standardize: 'global', cosineWeight: 16, relationWeight: 0 };

/** Distill flags of the current recipe (a layout regressing the descriptor) with `change` applied. */
function currentRecipe(change: Partial<RecipeSettings> = {}): string[] {
  const r = { ...BASELINE_RECIPE, ...change };
  return [
    '--arch', r.arch, '--targets', 'desc', ...(r.batchNorm ? ['--batch-norm'] : []), '--activation', r.activation,
    '--standardize', r.standardize, '--cosine-weight', String(r.cosineWeight), '--relation-weight', String(r.relationWeight),
  ];
}

/** Each variant's distill flags and what it changes. */
export const ABLATION_VARIANTS = {
  plain: { about: 'the current recipe without batch norm', flags: currentRecipe({ batchNorm: false }) },
  bn: { about: "with batch norm: the baseline of the bn-* variants (the previous shipped student's recipe)", flags: currentRecipe() },
  'bn-prelu': { about: 'bn with PReLU instead of ReLU', flags: currentRecipe({ activation: 'prelu' }) },
  'bn-prelu-conv5': { about: 'bn-prelu with the conv5 layout (parameters moved from fc1 into two 160-channel convolutions)', flags: currentRecipe({ activation: 'prelu', arch: 'conv5' }) },
  'bn-prelu-mobile': { about: 'bn-prelu with the mobile layout (a depthwise-separable trunk, 0.85 M parameters)', flags: currentRecipe({ activation: 'prelu', arch: 'mobile' }) },
  'bn-l2': { about: 'bn without the cosine term (L2 only)', flags: currentRecipe({ cosineWeight: 0 }) },
  'bn-rkd': { about: "bn plus RKD's distance term (weight 25, the RKD paper's for classification)", flags: currentRecipe({ relationWeight: 25 }) },
  'bn-neuron': { about: 'bn with per-neuron standardised targets', flags: currentRecipe({ standardize: 'neuron' }) },
  // the earlier target ablation: the paper layout, L2 only (selected needs UTKFace's attribute labels)
  selected: { about: "the paper's method: 192 hidden neurons chosen by attributes, per-neuron scale, L2 (UTKFace)", flags: ['--targets', 'selected', '--k', '192', '--standardize', 'neuron', '--cosine-weight', '0'] },
  hidden: { about: 'all 256 hidden neurons, per-neuron scale, L2', flags: ['--targets', 'hidden', '--standardize', 'neuron', '--cosine-weight', '0'] },
  'desc-neuron': { about: 'the descriptor, per-neuron scale, L2', flags: ['--targets', 'desc', '--standardize', 'neuron', '--cosine-weight', '0'] },
  'desc-global': { about: "the descriptor, one global scale (the teacher's metric), L2", flags: ['--targets', 'desc', '--standardize', 'global', '--cosine-weight', '0'] },
  'desc-cosine': { about: 'desc-global + 16 (1 - cos)', flags: ['--targets', 'desc', '--standardize', 'global', '--cosine-weight', '16'] },
} satisfies Record<string, { about: string; flags: readonly string[] }>;

export type AblationVariant = keyof typeof ABLATION_VARIANTS;

export const DEFAULT_ABLATION_VARIANTS: readonly AblationVariant[] = ['plain', 'bn', 'bn-prelu', 'bn-l2', 'bn-rkd', 'bn-neuron'];

export interface AblationOptions {
  epochs: number;
  /** Prepared training caches. */
  data: string[];
  /** `variant` or `variant@name` (the same variant on other data, e.g. a view bank, under its own name). */
  runs: string[];
  /** The prepared LFW cache, cut at the training caches' window. */
  lfw: string;
  /** Where models and checkpoints go (default .cache/ablation). */
  workDir?: string;
  /** Where the reports go (default reports/ablation). */
  reportDir?: string;
}

export interface AblationRun {
  name: string;
  variant: AblationVariant;
  model: string;
  /** Arguments of scripts/distill.ts. */
  distill: string[];
  /** The training report files next to the model and the paths they are copied to. */
  reports: Array<[from: string, to: string]>;
  /** Arguments of `mobileid eval-lfw`. */
  evaluate: string[];
}

const RUN_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;

/** The runs, in order; TrainingError on an unknown variant, a bad run name, a repeated name or bad epochs. */
export function planAblation(options: AblationOptions): AblationRun[] {
  const { epochs, data, runs, lfw, workDir = '.cache/ablation', reportDir = 'reports/ablation' } = options;
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new TrainingError(`epochs must be a whole number >= 1, got ${epochs}`);
  if (!data.length) throw new TrainingError('no prepared data given');
  if (!runs.length) throw new TrainingError('no variants given');
  const seen = new Set<string>();
  return runs.map((entry) => {
    const [variant, name = variant, ...rest] = entry.split('@');
    if (!Object.hasOwn(ABLATION_VARIANTS, variant)) {
      throw new TrainingError(`unknown variant '${variant}' (known: ${Object.keys(ABLATION_VARIANTS).join(', ')})`);
    }
    if (rest.length || !RUN_NAME.test(name)) throw new TrainingError(`run name '${entry}': a variant, optionally @name of letters, digits, '.' and '-'`);
    if (seen.has(name)) throw new TrainingError(`run name '${name}' given twice`);
    seen.add(name);
    const model = path.join(workDir, `${name}.mobileid`);
    const base = model.replace(/\.mobileid$/, '');
    return {
      name,
      variant: variant as AblationVariant,
      model,
      distill: [
        '--out', model, '--data', data.join(','), '--epochs', String(epochs),
        ...ABLATION_VARIANTS[variant as AblationVariant].flags,
        '--checkpoint-dir', path.join(workDir, `ckpt-${name}`), '--resume',
      ],
      reports: ['train.md', 'train.json', 'loss.png'].map((part) => [`${base}.${part}`, path.join(reportDir, `${name}.${part}`)]),
      evaluate: ['eval-lfw', '--model', model, '--prepared', lfw, '--verifier', 'cosine', '--mirror', '--report-dir', reportDir],
    };
  });
}
