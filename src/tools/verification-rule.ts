/**
 * The default verification rule of a student model file (graph.meta.verification: verifier,
 * threshold, mirror), fitted on the CelebA identity set (identity-labelled outside data, disjoint
 * from LFW): the student embeds the prepared aligned crops (mirror-averaged unless told not to),
 * every same-identity pair and as many seeded random different-identity pairs are scored, and the
 * threshold is the one that lets through the fraction `far` of the different pairs (a library's
 * default should reject unknown people; far 0 takes the threshold with the best accuracy instead).
 * LFW is never read, so LFW figures measured with the rule are not tuned on LFW. Used by
 * `npm run set-verification` and, for the int8 file it writes, `npm run quantize`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { MobileIdError } from '../errors.js';
import { decodeModel, modelFingerprint } from '../engine/model-format.js';
import { withVerificationDefaults, type VerificationDefaults } from '../face/recognizer.js';
import { seededRandom } from '../math/random.js';
import { bestThreshold, thresholdAtFar } from '../verify/pairs.js';
import { createVerifier } from '../verify/verifier.js';
import { combine, loadFeatures } from './eval-lfw.js';

/** The rule cannot be fitted (too few identities in the data). */
export class VerificationRuleError extends MobileIdError {
  override name = 'VerificationRuleError';
}

export interface RuleOptions {
  /** Prepared CelebA cache (keys <identity>/<file>). */
  prepared: string;
  verifier: 'cosine' | 'euclidean';
  mirror: boolean;
  /** False-accept rate the threshold is chosen for; 0: the best accuracy. */
  far: number;
  /** Which different-identity pairs are drawn. */
  seed: number;
}

export interface FittedRule extends VerificationDefaults {
  /** In words: where the threshold comes from (stored with the rule). */
  source: string;
  /** modelFingerprint of the model whose embeddings it was fitted on (stored with the rule). */
  fingerprint: string;
  /** On the fitting pairs: accuracy, true- and false-accept rates at the threshold. */
  accuracy: number;
  trueAccepts: number;
  falseAccepts: number;
  /** True-accept rates at 1% and 0.1% false accepts. */
  trueAcceptsAt1: number;
  trueAcceptsAt01: number;
}

/** Fits the rule of the student model file `model` (a path) on the prepared CelebA crops. */
export async function fitVerificationRule(model: string, options: RuleOptions): Promise<FittedRule> {
  const fingerprint = modelFingerprint(decodeModel(new Uint8Array(readFileSync(model))));
  const features = await loadFeatures(options.prepared, model, 'descriptor');
  const labels = [...features.keys()].map((key) => key.split('/')[0]);
  if (new Set(labels).size < 2) throw new VerificationRuleError(`${options.prepared} holds fewer than 2 identities`);
  const verifier = createVerifier(options.verifier);
  const embedded = [...features.values()].map((views) => verifier.embed(combine(views, options.mirror, 'average')));
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
  const random = seededRandom(options.seed);
  while (scores.length < 2 * sameCount) {
    const i = Math.floor(random() * embedded.length);
    const j = Math.floor(random() * embedded.length);
    if (labels[i] === labels[j]) continue;
    scores.push(verifier.compare(embedded[i], embedded[j]));
    same.push(false);
  }
  const different = scores.filter((_, k) => !same[k]);
  // "same" iff score > threshold: the threshold letting through `rate` of the different pairs
  const threshold = options.far > 0 ? thresholdAtFar(different, options.far) : bestThreshold(scores, same).threshold;
  const trueAcceptsAbove = (t: number) => scores.filter((s, k) => same[k] && s > t).length / sameCount;
  const what = options.far > 0 ? `${options.far * 100}% false accepts` : 'best accuracy';
  return {
    verifier: options.verifier,
    threshold,
    mirror: options.mirror,
    source: `${what} on the CelebA identity set (${labels.length} images, ${new Set(labels).size} identities, ${sameCount} same + ${sameCount} different pairs)`,
    fingerprint,
    accuracy: scores.filter((s, k) => s > threshold === same[k]).length / scores.length,
    trueAccepts: trueAcceptsAbove(threshold),
    falseAccepts: different.filter((s) => s > threshold).length / different.length,
    trueAcceptsAt1: trueAcceptsAbove(thresholdAtFar(different, 0.01)),
    trueAcceptsAt01: trueAcceptsAbove(thresholdAtFar(different, 0.001)),
  };
}

/** Fits the rule of the model file `model` and writes it into the file; returns it. */
export async function setVerificationRule(model: string, options: RuleOptions): Promise<FittedRule> {
  const bytes = new Uint8Array(readFileSync(model));
  const rule = await fitVerificationRule(model, options);
  writeFileSync(model, withVerificationDefaults(bytes, { verifier: rule.verifier, threshold: rule.threshold, mirror: rule.mirror, source: rule.source, fingerprint: rule.fingerprint }));
  return rule;
}

/** One line: the rule and its CelebA figures. */
export function describeRule(model: string, rule: FittedRule): string {
  const percent = (x: number) => `${(100 * x).toFixed(2)}%`;
  return (
    `${model}: ${rule.verifier} threshold ${rule.threshold.toFixed(4)} mirror ${rule.mirror}; on CelebA: accuracy ${percent(rule.accuracy)}, ` +
    `true accepts ${percent(rule.trueAccepts)} at ${percent(rule.falseAccepts)} false accepts; at 1% false accepts ${percent(rule.trueAcceptsAt1)}, at 0.1% ${percent(rule.trueAcceptsAt01)}`
  );
}
