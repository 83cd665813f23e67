/**
 * The human-readable record of a distillation run: a loss-curve PNG (train and validation loss
 * per epoch) and a markdown report next to the model file.
 */
import path from 'node:path';
import { renderLinePlot } from '../plot.js';
import { writeFileAtomic } from './checkpoint.js';
import type { RunRecord } from './distill.js';
import { runOutputs } from './inspect.js';

export interface ExportSummary {
  modelPath: string;
  modelBytes: number;
  exportError: number;
}

/** Writes `<base>.loss.png` and `<base>.train.md`; returns their paths. */
export function writeTrainingReport(base: string, run: RunRecord, exported: ExportSummary): { reportPath: string; plotPath: string } {
  const plotPath = `${base}.loss.png`;
  const reportPath = `${base}.train.md`;
  writeFileAtomic(plotPath, lossCurve(run));
  writeFileAtomic(reportPath, markdown(run, exported, path.basename(plotPath)));
  return { reportPath, plotPath };
}

function lossCurve(run: RunRecord): Uint8Array {
  const train = run.history.map((e) => [e.epoch, e.trainLoss] as [number, number]);
  const validation = run.history.map((e) => [e.epoch, e.validationLoss] as [number, number]);
  return renderLinePlot({
    width: 720,
    height: 440,
    series: [
      { points: train, color: '#1f77b4', label: 'train' },
      { points: validation, color: '#d62728', label: 'validation' },
    ],
    xLabel: 'epoch',
    yLabel: 'loss per image',
  });
}

/** Older runs stored standardize as a boolean (true = per neuron). */
const STANDARDIZATION: Record<string, string> = {
  neuron: 'standardised per neuron (folded into the last layer at export)',
  true: 'standardised per neuron (folded into the last layer at export)',
  global: 'centred per neuron, one shared scale: the teacher\'s Euclidean metric (folded into the last layer at export)',
  identity: 'centred, turned into the eigenbasis of the within-identity covariance and scaled by each axis\'s within-identity spread (folded into the last layer at export)',
  none: 'raw',
  false: 'raw',
};

/** " (fairface 45000, celeba 5820)" when the run used several sources. */
function sourceShares(run: RunRecord): string {
  const sources = Object.entries(run.dataset.sources ?? {});
  return sources.length > 1 ? ` (${sources.map(([name, n]) => `${name} ${n}`).join(', ')})` : '';
}

const fixed = (v: number | null, digits = 4) => (v === null || !Number.isFinite(v) ? '-' : v.toFixed(digits));

function markdown(run: RunRecord, exported: ExportSummary, plotFile: string): string {
  const o = run.options;
  const last = run.history.at(-1);
  const best = run.history.reduce<RunRecord['history'][number] | undefined>((b, e) => (!b || e.validationLoss < b.validationLoss ? e : b), undefined);
  const outputs = runOutputs(run);
  const lines = [
    `# Distillation report: ${path.basename(exported.modelPath)}`,
    '',
    `Student (MobileID, ${o.arch ?? 'paper'} layout${o.batchNorm ? ', batch norm folded in at export' : ''}${o.activation === 'prelu' ? ', PReLU' : ''}, 55x47x3 -> ${outputs}) regressing the teacher's ${o.targets === 'desc' ? '128-d descriptor' : 'hidden neurons'}${o.targets === 'selected' ? ` (${outputs} selected of 256)` : ''}.`,
    '',
    '## Setup',
    '',
    '| setting | value |',
    '|---|---|',
    `| data | ${[o.data].flat().join(', ')}: ${run.dataset.images} images${sourceShares(run)} x ${run.dataset.views} views${run.dataset.mixup ? ` (jittered views mixed up with another face with probability ${run.dataset.mixup})` : ''}${run.dataset.labels === 'crop' ? ', every view labelled by the teacher on the student\'s own crop (relabel-bank)' : ''}; ${run.dataset.train} train / ${run.dataset.validation} validation images (split by key, ${o.validationFraction * 100}%, seed ${o.seed}) |`,
    `| targets | ${o.targets}, ${STANDARDIZATION[String(o.standardize)] ?? String(o.standardize)} |`,
    `| loss | 1/2 sum_j (y_j - t_j)^2 per image${o.cosineWeight ? ` + ${o.cosineWeight} (1 - cos(y, t))` : ''}${o.relationWeight ? ` + ${o.relationWeight} x RKD's distance term (Huber loss of mean-normalised pairwise distances, per image of a worker's shard)` : ''}, averaged over the batch; the losses below are the squared-error part |`,
    `| gradient clipping | ${o.clipNorm ? `global norm ${o.clipNorm}` : 'none'} |`,
    `| optimiser | ${o.optimizer}, lr ${o.lr}${(o.grownRate ?? 1) !== 1 ? ` (x${o.grownRate} for the layers added by growing)` : ''}, weight decay ${o.weightDecay}${o.optimizer === 'sgd' ? `, momentum ${o.momentum}` : ''} |`,
    `| schedule | ${o.schedule}, warm-up ${o.warmupEpochs} epoch(s), ${o.epochs} epochs of batch ${o.batch} |`,
    `| augmentation | random view per image and epoch${o.jitter ? `; brightness +-${o.jitter.brightness}, contrast +-${o.jitter.contrast}, colour gain +-${o.jitter.color}` : ''} |`,
    `| workers | ${o.workers} |`,
    ...(run.warmStart ? [`| warm start | weights of ${run.warmStart.from} (${run.warmStart.epochs} epochs at window ${run.warmStart.windowScale}, validation R2 ${fixed(run.warmStart.validationR2, 3)}); this run's crops at window ${run.dataset.windowScale ?? 1} |`] : []),
    '',
    '## Result',
    '',
    `- final: train loss ${fixed(last?.trainLoss ?? null)}, validation loss ${fixed(last?.validationLoss ?? null)}${last?.validationR2 != null ? `, validation R2 ${fixed(last.validationR2, 3)}` : ''}`,
    `- best validation loss ${fixed(best?.validationLoss ?? null)} at epoch ${best?.epoch ?? '-'}`,
    `- model file: ${exported.modelPath}, ${exported.modelBytes} bytes (${o.dtype}); outputs vs the f32 training network: max relative difference ${exported.exportError.toExponential(2)}`,
    `- training throughput (last epoch): ${fixed(last?.imagesPerSecond ?? null, 1)} images/s`,
    '',
    `![loss per epoch](${plotFile})`,
    '',
    '## Per epoch',
    '',
    '| epoch | steps | train loss | val loss | val R2 | lr (end) | gradient norm | images/s | seconds |',
    '|---|---|---|---|---|---|---|---|---|',
    ...run.history.map((e) => `| ${e.epoch} | ${e.steps} | ${fixed(e.trainLoss)} | ${fixed(e.validationLoss)} | ${fixed(e.validationR2, 3)} | ${e.learningRate.toExponential(2)} | ${fixed(e.gradientNorm ?? null, 2)} | ${fixed(e.imagesPerSecond, 1)} | ${fixed(e.seconds, 0)} |`),
  ];
  if (run.selection && run.neurons) {
    const kept = new Set(run.neurons);
    const average = (values: number[], keep: boolean) => {
      const picked = values.filter((_, j) => kept.has(j) === keep);
      return picked.reduce((a, b) => a + b, 0) / Math.max(1, picked.length);
    };
    lines.push(
      '',
      '## Neuron selection',
      '',
      `Score per hidden neuron: mean correlation ratio (eta2) with the identity-related attributes (gender, race) minus ${o.nuisanceWeight} x eta2 with age group, on view 0 of the training split; the ${run.neurons.length} best are kept.`,
      '',
      '| neurons | ' + Object.keys(run.selection.perAttribute).map((a) => `mean eta2 ${a}`).join(' | ') + ' |',
      '|---|' + Object.keys(run.selection.perAttribute).map(() => '---|').join(''),
      ...[true, false].map((keep) => `| ${keep ? 'kept' : 'dropped'} | ` + Object.values(run.selection!.perAttribute).map((v) => average(v, keep).toFixed(4)).join(' | ') + ' |'),
    );
  }
  return lines.join('\n') + '\n';
}
