/**
 * Identification: which enrolled person a face embedding belongs to, or nobody.
 *
 *   const matcher = recognizer.createMatcher();              // the model's identity, metric and threshold
 *   matcher.enroll('Ada', [embedding1, embedding2]);         // several embeddings per person
 *   matcher.match(query);                                    // { label: 'Ada' | 'unknown', known, score, ... }
 *   matcher.topK(query, 5);                                  // the 5 nearest people, best first
 *   const saved = JSON.stringify(matcher);                   // FaceMatcher.fromJSON(JSON.parse(saved), ...)
 *
 * A person's score is the best score of their embeddings (cosine similarity, or minus the
 * Euclidean distance: higher = more alike, as in verify()). The query is compared with every
 * enrolled embedding in one pass over a contiguous Float32Array (a linear scan; no index to
 * build or to go stale). Embeddings carry the fingerprint of the model that made them: a matcher
 * refuses those of another model, of another length, or with NaN/Infinity.
 */
import { FeatureDimensionError, ModelMismatchError, VerifierFormatError, VerifierInputError } from './errors.js';
import { createVerifier, type Verifier } from './verifier.js';

/** The model embeddings come from: its name, its fingerprint (see modelFingerprint) and the embedding length. */
export interface ModelIdentity {
  name: string;
  fingerprint: string;
  dimension: number;
}

export type MatchMetric = 'cosine' | 'euclidean';

export interface MatcherOptions {
  model: ModelIdentity;
  /** How embeddings are compared; the threshold is on this metric's scale. */
  metric: MatchMetric;
  /** A match needs score >= threshold; null: no decision, every match is 'unknown' unless a threshold is passed to match(). */
  threshold: number | null;
  /** Whether embeddings should be mirror-averaged (as the threshold was fitted); recorded for whoever embeds. */
  mirror: boolean;
}

/**
 * An embedding as the recognizer returns it (an EmbeddedFace: its model is checked against the
 * matcher's), or a bare Float32Array (only its length can be checked).
 */
export type EmbeddingInput = Float32Array | { embedding: Float32Array; model?: ModelIdentity };

/** The label match() gives a face that is nobody enrolled; it cannot be enrolled itself. */
export const UNKNOWN = 'unknown';

export interface Candidate {
  label: string;
  /** The person's best score against the query. */
  score: number;
}

export interface MatchResult {
  /** The best person when known, else 'unknown'. */
  label: string;
  /** score >= threshold. */
  known: boolean;
  /** The best person's score (null with nobody enrolled). */
  score: number | null;
  threshold: number | null;
  /** The best person whether or not the threshold is reached (null with nobody enrolled). */
  nearest: Candidate | null;
}

/** The saved form (toJSON / fromJSON). */
export interface MatcherJson {
  format: typeof FORMAT;
  version: typeof VERSION;
  model: ModelIdentity;
  metric: MatchMetric;
  threshold: number | null;
  mirror: boolean;
  people: { label: string; embeddings: number[][] }[];
}

const FORMAT = 'mobileid-matcher';
const VERSION = 1;
const METRICS: readonly MatchMetric[] = ['cosine', 'euclidean'];

function checkThreshold(threshold: unknown, what: string): void {
  if (threshold !== null && !Number.isFinite(threshold)) throw new VerifierInputError(`${what} must be a finite number or null, got ${String(threshold)}`);
}

export class FaceMatcher {
  readonly model: ModelIdentity;
  readonly metric: MatchMetric;
  readonly mirror: boolean;
  threshold: number | null;
  /** Enrolled embeddings, row after row (cosine: stored unit length). */
  private rows: Float32Array;
  private count = 0;
  /** Person index of each row. */
  private owners: Int32Array;
  private readonly labelList: string[] = [];
  private readonly personOf = new Map<string, number>();
  private readonly verifier: Verifier;

  constructor(options: MatcherOptions) {
    const { model, metric, threshold, mirror } = options;
    if (!model || typeof model.name !== 'string' || typeof model.fingerprint !== 'string' || !(Number.isInteger(model.dimension) && model.dimension > 0)) {
      throw new VerifierInputError(`a matcher needs the model's identity {name, fingerprint, dimension}, got ${JSON.stringify(model)}`);
    }
    if (!METRICS.includes(metric)) throw new VerifierInputError(`metric must be cosine or euclidean, got ${JSON.stringify(metric)}`);
    checkThreshold(threshold, 'threshold');
    this.model = { name: model.name, fingerprint: model.fingerprint, dimension: model.dimension };
    this.metric = metric;
    this.verifier = createVerifier(metric);
    this.threshold = threshold;
    this.mirror = Boolean(mirror);
    this.rows = new Float32Array(64 * model.dimension);
    this.owners = new Int32Array(64);
  }

  /** Enrolled people, in order of first enrolment. */
  get labels(): string[] {
    return [...this.labelList];
  }

  /** Enrolled embeddings, all people together. */
  get size(): number {
    return this.count;
  }

  /**
   * Adds embeddings of one person (to those already enrolled under the label). Checks every
   * embedding before adding any: FeatureDimensionError for a wrong length, VerifierInputError
   * for NaN/Infinity, an empty label or the label 'unknown'.
   */
  enroll(label: string, embeddings: EmbeddingInput | readonly EmbeddingInput[]): void {
    if (typeof label !== 'string' || label.trim() === '') throw new VerifierInputError(`a label must be a non-empty string, got ${JSON.stringify(label)}`);
    if (label === UNKNOWN) throw new VerifierInputError(`"${UNKNOWN}" is what match() answers for nobody enrolled: choose another label`);
    const list = Array.isArray(embeddings) ? (embeddings as readonly EmbeddingInput[]) : [embeddings as EmbeddingInput];
    if (!Array.isArray(list) || list.length === 0) throw new VerifierInputError(`enroll("${label}") got no embeddings`);
    const prepared = list.map((e, i) => this.prepare(e, `embedding ${i} of "${label}"`));
    let person = this.personOf.get(label);
    if (person === undefined) {
      person = this.labelList.length;
      this.labelList.push(label);
      this.personOf.set(label, person);
    }
    this.reserve(this.count + prepared.length);
    for (const row of prepared) {
      this.rows.set(row, this.count * this.model.dimension);
      this.owners[this.count++] = person;
    }
  }

  /** Removes a person and their embeddings; false when the label is not enrolled. */
  remove(label: string): boolean {
    const person = this.personOf.get(label);
    if (person === undefined) return false;
    const dim = this.model.dimension;
    let kept = 0;
    for (let r = 0; r < this.count; r++) {
      const owner = this.owners[r];
      if (owner === person) continue;
      if (kept !== r) this.rows.copyWithin(kept * dim, r * dim, (r + 1) * dim);
      this.owners[kept++] = owner > person ? owner - 1 : owner;
    }
    this.count = kept;
    this.labelList.splice(person, 1);
    this.personOf.clear();
    this.labelList.forEach((l, i) => this.personOf.set(l, i));
    return true;
  }

  /** The best person for the query; 'unknown' below the threshold (options.threshold, else the matcher's). */
  match(embedding: EmbeddingInput, options: { threshold?: number | null } = {}): MatchResult {
    const threshold = options.threshold === undefined ? this.threshold : options.threshold;
    checkThreshold(threshold, 'threshold');
    const [nearest = null] = this.topK(embedding, 1);
    const known = nearest !== null && threshold !== null && nearest.score >= threshold;
    return { label: known ? nearest.label : UNKNOWN, known, score: nearest?.score ?? null, threshold, nearest };
  }

  /** The k best people (each scored by their best embedding), best first. */
  topK(embedding: EmbeddingInput, k: number): Candidate[] {
    if (!(Number.isInteger(k) && k >= 1)) throw new VerifierInputError(`k must be a positive whole number, got ${k}`);
    const query = this.prepare(embedding, 'the query');
    const euclidean = this.metric === 'euclidean';
    const best = new Float64Array(this.labelList.length).fill(-Infinity);
    (euclidean ? bestNegSquaredDistance : bestDot)(this.rows, this.count, this.model.dimension, this.owners, query, best);
    return bestOf(best, k).map((person) => ({ label: this.labelList[person], score: euclidean ? -Math.sqrt(-best[person]) : best[person] }));
  }

  toJSON(): MatcherJson {
    const dim = this.model.dimension;
    const people = this.labelList.map((label) => ({ label, embeddings: [] as number[][] }));
    for (let r = 0; r < this.count; r++) people[this.owners[r]].embeddings.push(Array.from(this.rows.subarray(r * dim, (r + 1) * dim)));
    return { format: FORMAT, version: VERSION, model: { ...this.model }, metric: this.metric, threshold: this.threshold, mirror: this.mirror, people };
  }

  /**
   * A matcher from its saved form. `expected` is the identity of the model whose embeddings will
   * be matched: a file of another model is refused (ModelMismatchError). VerifierFormatError for
   * anything that is not a saved matcher; the embeddings are checked as enroll() checks them.
   */
  static fromJSON(json: unknown, expected: ModelIdentity): FaceMatcher {
    const saved = json as Partial<MatcherJson> | null;
    if (typeof saved !== 'object' || saved === null || saved.format !== FORMAT) throw new VerifierFormatError(`not a saved ${FORMAT} (no "format": "${FORMAT}")`);
    if (saved.version !== VERSION) throw new VerifierFormatError(`saved matcher version ${String(saved.version)}; this library reads version ${VERSION}`);
    if (!Array.isArray(saved.people)) throw new VerifierFormatError('saved matcher has no "people" list');
    const model = saved.model as ModelIdentity | undefined;
    if (!model || model.fingerprint !== expected.fingerprint || model.dimension !== expected.dimension) {
      throw new ModelMismatchError(
        `the saved matcher holds embeddings of ${describe(model)}, not of ${describe(expected)}: re-enroll the people with this model`,
      );
    }
    const matcher = new FaceMatcher({ model, metric: saved.metric as MatchMetric, threshold: saved.threshold ?? null, mirror: saved.mirror ?? false });
    for (const person of saved.people) {
      if (!person || !Array.isArray(person.embeddings)) throw new VerifierFormatError('a person of the saved matcher has no "embeddings" list');
      // JSON writes NaN and Infinity as null: anything but a number becomes NaN, refused by enroll()
      const rows = person.embeddings.map((e) => Float32Array.from(Array.isArray(e) ? e : [], (v) => (typeof v === 'number' ? v : NaN)));
      matcher.enroll(person.label, rows);
    }
    return matcher;
  }

  /** A checked copy of an embedding as stored (unit length for cosine). */
  private prepare(input: EmbeddingInput, what: string): Float32Array {
    const embedding = input instanceof Float32Array ? input : input?.embedding;
    if (!(embedding instanceof Float32Array)) throw new VerifierInputError(`${what} must be a Float32Array or an embedded face`);
    const from = input instanceof Float32Array ? undefined : input.model;
    if (from && from.fingerprint !== this.model.fingerprint) {
      throw new ModelMismatchError(`${what} was made by ${describe(from)}; this matcher holds embeddings of ${describe(this.model)}`);
    }
    const dim = this.model.dimension;
    if (embedding.length !== dim) {
      throw new FeatureDimensionError(`${what} has ${embedding.length} values; ${this.model.name} (${this.model.fingerprint}) makes ${dim}`);
    }
    try {
      // the verifier's own form: checked finite, unit length for cosine; copied, never the caller's array
      return Float32Array.from(this.verifier.embed(embedding));
    } catch (error) {
      if (error instanceof VerifierInputError) error.message = `${what}: ${error.message}`;
      throw error;
    }
  }

  private reserve(rows: number): void {
    if (rows <= this.owners.length) return;
    const capacity = Math.max(rows, this.owners.length * 2);
    const grown = new Float32Array(capacity * this.model.dimension);
    grown.set(this.rows.subarray(0, this.count * this.model.dimension));
    this.rows = grown;
    const owners = new Int32Array(capacity);
    owners.set(this.owners.subarray(0, this.count));
    this.owners = owners;
  }
}

const describe = (model: Partial<ModelIdentity> | undefined) =>
  model ? `model ${String(model.name)} (fingerprint ${String(model.fingerprint)}, ${String(model.dimension)} values)` : 'an unnamed model';

// The scans: one function per metric, so that each loop stays monomorphic for the JIT; 4 partial
// sums give independent additions the CPU can overlap. best[person] keeps the person's best score.

/** Per person, the largest minus squared distance to the query (ranks as minus the distance does). */
function bestNegSquaredDistance(rows: Float32Array, count: number, dim: number, owners: Int32Array, query: Float32Array, best: Float64Array): void {
  for (let r = 0, at = 0; r < count; r++, at += dim) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = 0;
    for (; i + 3 < dim; i += 4) {
      const d0 = rows[at + i] - query[i];
      const d1 = rows[at + i + 1] - query[i + 1];
      const d2 = rows[at + i + 2] - query[i + 2];
      const d3 = rows[at + i + 3] - query[i + 3];
      s0 += d0 * d0;
      s1 += d1 * d1;
      s2 += d2 * d2;
      s3 += d3 * d3;
    }
    for (; i < dim; i++) s0 += (rows[at + i] - query[i]) ** 2;
    const score = -(s0 + s1 + s2 + s3);
    if (score > best[owners[r]]) best[owners[r]] = score;
  }
}

/** Per person, the largest dot product with the query (cosine: rows and query are unit length). */
function bestDot(rows: Float32Array, count: number, dim: number, owners: Int32Array, query: Float32Array, best: Float64Array): void {
  for (let r = 0, at = 0; r < count; r++, at += dim) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = 0;
    for (; i + 3 < dim; i += 4) {
      s0 += rows[at + i] * query[i];
      s1 += rows[at + i + 1] * query[i + 1];
      s2 += rows[at + i + 2] * query[i + 2];
      s3 += rows[at + i + 3] * query[i + 3];
    }
    for (; i < dim; i++) s0 += rows[at + i] * query[i];
    const score = s0 + s1 + s2 + s3;
    if (score > best[owners[r]]) best[owners[r]] = score;
  }
}

/** Indices of the k largest values, largest first (a sorted window of k: O(n k), k is small). */
function bestOf(values: Float64Array, k: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (top.length === k && values[i] <= values[top[k - 1]]) continue;
    let at = Math.min(top.length, k - 1);
    top[at] = i;
    while (at > 0 && values[top[at - 1]] < values[i]) {
      top[at] = top[at - 1];
      top[--at] = i;
    }
  }
  return top;
}
