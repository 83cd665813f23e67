/**
 * Raw photos in, faces and decisions out:
 *
 *   const recognizer = await FaceRecognizer.create();       // bundled models, own engine
 *   const faces = recognizer.detectFaces(jpegBytes);        // boxes, scores, 68 + 5 landmarks
 *   const result = recognizer.verify(photoA, photoB);       // largest face of each, compared
 *   recognizer.dispose();
 *
 * Stages: TinyFaceDetector box (smaller input sizes tried while no large face is found at 416)
 * -> 68 landmarks (a second pass on the box the first pass implies, which gave the teacher better
 * LFW accuracy than the detector box alone, turned with the first pass's eye line so a tilted face
 * is seen upright) -> the
 * student's 47x55 crop aligned on 5 points (or, given the teacher's file as the embedding model,
 * its 150x150 chip) -> embedding -> verifier. The CLI's commands find faces in photos only
 * through here. Runtime-neutral: no file system; images are RgbImages or the bytes of a JPEG/PNG
 * file (a Node Buffer is such bytes).
 *
 * Where one face per photo is wanted (verify, embedLargestFace) the detector runs at every size,
 * the face's box is the one of its boxes its landmarks settle in best, and a photo with no face
 * above the score threshold gets its best fainter face (FAINT_FACE_THRESHOLD).
 */
import { loadBundledModel, type BundledModelName } from '../engine/assets.js';
import { Engine } from '../engine/engine.js';
import type { Model, Precision } from '../engine/model.js';
import { decodeModel, modelFingerprint, withGraphMeta } from '../engine/model-format.js';
import { elements } from '../engine/plan.js';
import { DisposedError, InputError, MobileIdError, ModelFormatError } from '../errors.js';
import { assertRgbImage, decodeImage, ImageDecodeError, pixelLimit, type RgbImage } from '../image.js';
import { FaceMatcher, type ModelIdentity } from '../verify/matcher.js';
import { createVerifier, type Verifier } from '../verify/verifier.js';
import { TEACHER_CHIP_SIZE } from './align.js';
import { TinyFaceDetector, boxIou, checkDetectorOptions, type Detection, type DetectorOptions } from './detector.js';
import { landmarks68To5, landmarkRegions, namedLandmarks, type LandmarkRegions, type NamedLandmarks, type Point } from './landmarks.js';
import { LandmarkNet, StudentNet, TeacherNet, type Box } from './networks.js';

/** embedFaces/verify were called but no student model was given and none is bundled. */
export class StudentModelMissingError extends MobileIdError {
  override name = 'StudentModelMissingError';
}

/** A verify() option out of range (unknown verifier name, non-finite threshold). */
export class VerifyOptionError extends MobileIdError {
  override name = 'VerifyOptionError';
}

/** A decoded image, or the bytes of a JPEG or PNG file (decoded with its Exif orientation). */
export type ImageInput = RgbImage | Uint8Array;

export interface RecognizerModels {
  /** Model file bytes; each defaults to the bundled file (see assets.ts). */
  detector?: Uint8Array;
  landmarks?: Uint8Array;
  /** The embedding model: the student, or dlib's teacher (a checkout's, for its 128-d descriptor). */
  student?: Uint8Array;
}

/**
 * The bundled student the recognizer embeds with unless told otherwise: int8 (the quantised
 * student on the integer kernels: within 0.2 points of the float student on LFW, about a third
 * of its wasm memory, faster; its own verification rule fitted on CelebA; models/mobileid-student.int8.md).
 */
export const DEFAULT_PRECISION: Precision = 'int8';

/** The bundled student file of a precision. */
export function bundledStudent(precision: Precision = DEFAULT_PRECISION): BundledModelName {
  return precision === 'int8' ? 'mobileidInt8' : 'mobileid';
}

export interface RecognizerOptions {
  /** Engine to load the models into (kept alive by dispose()); default: a new one, owned. */
  engine?: Engine;
  models?: RecognizerModels;
  /**
   * The student's arithmetic. Without models.student it picks the bundled file: int8 (default,
   * the quantised student on the integer kernels) or f32 (the float student: its stored weights
   * expanded on the float kernels).
   * With models.student: default the file's own; f32 also runs a quantised file's weights in
   * float; int8 needs a quantised file. Anything else is an InputError.
   */
  precision?: Precision;
  /** Detector options for every call that does not pass its own. */
  detector?: DetectorOptions;
  /** Largest photo decoded from bytes, in pixels (ImageTooLargeError beyond); default MAX_DECODE_PIXELS. */
  maxPixels?: number;
  /**
   * Default true: the second landmark pass sees the face rotated upright (the first pass's eye
   * line), which keeps landmarks on tilted faces (npm run landmark-rotation). false: both passes
   * on axis-aligned boxes, as face-api does (the pipeline before; for comparison).
   */
  uprightLandmarks?: boolean;
}

export interface DetectedFace {
  /** Detector box in image pixels (may reach past the image edges). */
  box: Box;
  /** Detector confidence, 0..1. */
  score: number;
  /** iBUG 68 points, pixel centres at integer coordinates. */
  landmarks68: Point[];
  /** Eye centres, nose tip, mouth corners (left/right as seen in the image). */
  landmarks5: Point[];
  /** landmarks5 by name: leftEye, rightEye, nose, mouthLeft, mouthRight. */
  landmarks: NamedLandmarks;
  /** landmarks68 by region: jaw, leftBrow, rightBrow, noseBridge, nostrils, leftEye, rightEye, outerLip, innerLip. */
  regions: LandmarkRegions;
}

export interface EmbeddedFace {
  face: DetectedFace;
  embedding: Float32Array;
  /** The model that made the embedding: a FaceMatcher refuses embeddings of another model. */
  model: ModelIdentity;
}

export interface MatcherOptions {
  /** score >= threshold is a match; default the model's verification threshold (as verify()). */
  threshold?: number;
}

export interface EmbedOptions {
  /** Average the embedding with the mirrored crop's. Default false. */
  mirror?: boolean;
  detector?: DetectorOptions;
}

export interface LargestFaceOptions extends EmbedOptions {
  /**
   * Where the face is taken to be when the detector finds none (e.g. in a photo that is already
   * a face crop): landmarks are found inside this box, and the face's score is 0.
   */
  fallbackBox?: Box;
  /**
   * The photo is a face crop (a portrait collection, LFW): the detector's input is matched to
   * the photo's size (cheaper, and the face stays large) unless options.detector sets one, and
   * when no face is found the centred square of 60% of the shorter side is taken as the face
   * (unless fallbackBox is given). Default false.
   */
  faceCrop?: boolean;
}

export interface LargestFace extends EmbeddedFace {
  /** How many faces the detector found (0 when the face is the fallback box). */
  found: number;
}

/** What a student model file may declare in graph.meta.verification. */
export interface VerificationDefaults {
  /** The verifier the threshold belongs to. */
  verifier: 'cosine' | 'euclidean';
  /** same = score >= threshold, on that verifier's scale (euclidean scores are -distance). */
  threshold: number;
  /** Whether the threshold was fitted on mirror-averaged embeddings; verify()'s default. */
  mirror: boolean;
}

export interface VerifyOptions {
  /** Default: the model's meta.verification.mirror, else false. */
  mirror?: boolean;
  /** A metric by name, or any (fitted) Verifier. Default: the model's meta.verification.verifier, else cosine. */
  verifier?: 'cosine' | 'euclidean' | Verifier;
  /** Decision threshold; default the model's meta.verification.threshold when it is for the same verifier. */
  threshold?: number;
  detector?: DetectorOptions;
}

export interface Timings {
  decodeMs: number;
  detectMs: number;
  landmarksMs: number;
  embedMs: number;
  totalMs: number;
}

export interface VerifyResult {
  /** Verifier score, higher = more alike; null when an image has no face. */
  score: number | null;
  threshold: number | null;
  /** score >= threshold; null when there is no score or no threshold. */
  same: boolean | null;
  verifier: string;
  mirror: boolean;
  /** The face compared in each image: the largest detector box. */
  faceA: DetectedFace | null;
  faceB: DetectedFace | null;
  facesFoundA: number;
  facesFoundB: number;
  /** Plain-language remarks: which faces were compared, missing faces, missing threshold. */
  note: string;
  timings: Timings;
}

/** First landmark pass on the detector box, second on the box the first pass implies. */
const LANDMARK_PASSES = 2;
const VERIFIERS = ['cosine', 'euclidean'] as const;

const now = () => performance.now();

function newTimings(): Timings {
  return { decodeMs: 0, detectMs: 0, landmarksMs: 0, embedMs: 0, totalMs: 0 };
}

/** meta.verification of a student model, validated; null when absent. */
export function readVerificationDefaults(meta: Record<string, unknown> | undefined): VerificationDefaults | null {
  const value = meta?.verification;
  if (value === undefined) return null;
  const v = value as Partial<VerificationDefaults>;
  const valid = typeof v === 'object' && v !== null && VERIFIERS.includes(v.verifier as 'cosine') && Number.isFinite(v.threshold) &&
    (v.mirror === undefined || typeof v.mirror === 'boolean');
  if (!valid) {
    throw new ModelFormatError(
      `student model meta.verification must be {verifier: "cosine" | "euclidean", threshold: number, mirror?: boolean}, got ${JSON.stringify(value)}`,
    );
  }
  return { verifier: v.verifier!, threshold: v.threshold!, mirror: v.mirror ?? false };
}

/**
 * The model file with `verification` as its meta.verification, the rule verify() (and whatever
 * else reads FaceRecognizer.verification) takes as its default; the tensors are kept as stored.
 * `source` says in words where the threshold comes from, `fingerprint` which model's embeddings
 * it was fitted on (modelFingerprint).
 */
export function withVerificationDefaults(model: Uint8Array, verification: VerificationDefaults & { source?: string; fingerprint?: string }): Uint8Array {
  readVerificationDefaults({ verification });
  return withGraphMeta(model, { ...decodeModel(model).graph.meta, verification });
}

const area = (box: Box) => box.width * box.height;

/** A located face's embedding, by the student (its 47x55 crop) or the teacher (its descriptor). */
interface Embedder {
  readonly dimension: number;
  embed(image: RgbImage, faces: readonly DetectedFace[], mirror: boolean): Float32Array;
}

/** The teacher by its 150x150 input; any other model must be a student (StudentNet checks it). */
function embedderFor(model: Model): Embedder {
  if (model.inputShape[0] === TEACHER_CHIP_SIZE) {
    const teacher = new TeacherNet(model);
    return {
      dimension: elements(model.outputShapes[1]),
      embed: (image, faces, mirror) => teacher.embed(faces.map((f) => ({ image, landmarks68: f.landmarks68, mirror }))).descriptor,
    };
  }
  const student = new StudentNet(model);
  return {
    dimension: student.dimension,
    embed: (image, faces, mirror) => student.embed(faces.map((f) => ({ image, landmarks: f.landmarks5 })), mirror),
  };
}

function resolveVerification(defaults: VerificationDefaults | null, options: VerifyOptions): { verifier: Verifier; threshold: number | null; mirror: boolean; thresholdNote: string } {
  const choice = options.verifier ?? defaults?.verifier ?? 'cosine';
  if (typeof choice === 'string' && !VERIFIERS.includes(choice)) {
    throw new VerifyOptionError(`verifier must be ${VERIFIERS.join(' or ')} or a Verifier, got ${JSON.stringify(choice)}`);
  }
  if (options.threshold !== undefined && !Number.isFinite(options.threshold)) {
    throw new VerifyOptionError(`threshold must be a finite number, got ${options.threshold}`);
  }
  const verifier = typeof choice === 'string' ? createVerifier(choice) : choice;
  const mirror = options.mirror ?? defaults?.mirror ?? false;
  const fromModel = defaults && defaults.verifier === verifier.name ? defaults : null;
  const threshold = options.threshold ?? fromModel?.threshold ?? null;
  let thresholdNote = '';
  if (threshold === null) {
    thresholdNote = defaults
      ? `no decision: the model's threshold is for ${defaults.verifier}, not ${verifier.name}; pass a threshold`
      : 'no decision: the student model declares no threshold (meta.verification); pass one';
  } else if (options.threshold === undefined && fromModel && fromModel.mirror !== mirror) {
    thresholdNote = `the model's threshold was fitted with mirror ${fromModel.mirror ? 'on' : 'off'}`;
  }
  return { verifier, threshold, mirror, thresholdNote };
}

/**
 * A matcher for embeddings of `model`, with the rule verify() uses: the model's metric, mirroring
 * and threshold (options.threshold instead, when given). A saved matcher (`json`, its toJSON())
 * is loaded instead of an empty one: ModelMismatchError when it holds another model's embeddings,
 * and its saved threshold stands unless options.threshold is given.
 */
export function matcherFor(model: ModelIdentity, defaults: VerificationDefaults | null, options: MatcherOptions = {}, json?: unknown): FaceMatcher {
  const { verifier, threshold, mirror } = resolveVerification(defaults, { threshold: options.threshold });
  if (json === undefined) return new FaceMatcher({ model, metric: verifier.name as 'cosine' | 'euclidean', threshold, mirror });
  const matcher = FaceMatcher.fromJSON(json, model);
  if (options.threshold !== undefined) matcher.threshold = options.threshold;
  return matcher;
}

export class FaceRecognizer {
  /** The student model's meta.verification, or null. */
  readonly verification: VerificationDefaults | null;
  /** The embedding model's identity (null without a student): what a FaceMatcher checks embeddings against. */
  readonly model: ModelIdentity | null;
  private readonly landmarks: LandmarkNet;
  private readonly embedder: Embedder | null;
  private disposed = false;

  private constructor(
    private readonly engine: Engine,
    private readonly ownsEngine: boolean,
    private readonly detector: TinyFaceDetector,
    private readonly landmarkModel: Model,
    private readonly studentModel: Model | null,
    /** Why there is no student, for the error embedFaces/verify throw. */
    private readonly studentMissing: string,
    private readonly detectorDefaults: DetectorOptions,
    fingerprint: string,
    private readonly maxPixels: number,
    private readonly uprightLandmarks: boolean,
  ) {
    this.landmarks = new LandmarkNet(landmarkModel);
    this.embedder = studentModel && embedderFor(studentModel);
    this.verification = studentModel ? readVerificationDefaults(studentModel.graph.meta) : null;
    this.model = studentModel && this.embedder ? { name: studentModel.graph.name, fingerprint, dimension: this.embedder.dimension } : null;
  }

  /**
   * Loads the models (given bytes, else the bundled files). A missing bundled student is not an
   * error here: detection works without it, and embedFaces/verify say what is missing.
   */
  static async create(options: RecognizerOptions = {}): Promise<FaceRecognizer> {
    checkDetectorOptions(options.detector ?? {});
    if (options.uprightLandmarks !== undefined && typeof options.uprightLandmarks !== 'boolean') {
      throw new InputError(`uprightLandmarks must be a boolean, got ${JSON.stringify(options.uprightLandmarks)}`);
    }
    const maxPixels = pixelLimit(options);
    const models = options.models ?? {};
    const [detectorBytes, landmarkBytes] = await Promise.all([
      models.detector ?? loadBundledModel('detector'),
      models.landmarks ?? loadBundledModel('landmarks68'),
    ]);
    let studentBytes = models.student;
    let studentMissing = '';
    if (!studentBytes) {
      try {
        studentBytes = await loadBundledModel(bundledStudent(options.precision));
      } catch (cause) {
        studentMissing = `no student model was given (models.student) and the bundled one is unavailable: ${(cause as Error).message}`;
      }
    }
    const engine = options.engine ?? (await Engine.create());
    const loaded: Array<{ dispose(): void }> = [];
    try {
      const detector = new TinyFaceDetector(engine, detectorBytes);
      loaded.push(detector);
      const landmarkModel = engine.loadModel(landmarkBytes);
      loaded.push(landmarkModel);
      const student = studentBytes ? decodeModel(studentBytes) : null;
      const studentModel = student ? engine.loadModel(student, { precision: options.precision }) : null;
      if (studentModel) loaded.push(studentModel);
      const fingerprint = student ? modelFingerprint(student) : '';
      return new FaceRecognizer(engine, !options.engine, detector, landmarkModel, studentModel, studentMissing, options.detector ?? {}, fingerprint, maxPixels, options.uprightLandmarks ?? true);
    } catch (error) {
      for (const item of loaded) item.dispose();
      if (!options.engine) engine.dispose();
      throw error;
    }
  }

  /** Length of the embeddings embedFaces returns (0 without a student model). */
  get embeddingSize(): number {
    return this.embedder?.dimension ?? 0;
  }

  /** Every face the detector finds, best score first, with landmarks. [] when there is none. */
  detectFaces(image: ImageInput, options: DetectorOptions = {}): DetectedFace[] {
    const timings = newTimings();
    const rgb = this.toImage(image, timings);
    return this.locate(rgb, this.detect(rgb, options, timings), timings);
  }

  /** Every face with its embedding (see EmbedOptions.mirror). */
  embedFaces(image: ImageInput, options: EmbedOptions = {}): EmbeddedFace[] {
    const embedder = this.requireStudent();
    const timings = newTimings();
    const rgb = this.toImage(image, timings);
    const faces = this.locate(rgb, this.detect(rgb, options.detector ?? {}, timings), timings);
    const embeddings = this.embed(embedder, rgb, faces, options.mirror ?? false, timings);
    const model = this.model!;
    return faces.map((face, i) => ({ face, embedding: embeddings[i], model }));
  }

  /**
   * The largest face (detector box area) with its embedding, as verify() compares it; null when
   * the detector finds no face and no fallback box is given.
   */
  embedLargestFace(image: ImageInput, options: LargestFaceOptions = {}): LargestFace | null {
    const embedder = this.requireStudent();
    const timings = newTimings();
    const rgb = this.toImage(image, timings);
    const { mirror = false, faceCrop = false } = options;
    const detector = faceCrop ? { inputSize: faceCropInputSize(rgb), ...options.detector } : (options.detector ?? {});
    const fallbackBox = options.fallbackBox ?? (faceCrop ? centredFaceBox(rgb) : undefined);
    const { face, found, embedding } = this.largestFace(embedder, rgb, detector, mirror, fallbackBox, timings);
    return face && embedding ? { face, embedding, found, model: this.model! } : null;
  }

  /**
   * Same person or not: the largest face (detector box area) of each image, embedded and
   * compared. An image without a face gives score/same null and says so in `note`.
   */
  verify(imageA: ImageInput, imageB: ImageInput, options: VerifyOptions = {}): VerifyResult {
    const embedder = this.requireStudent();
    const start = now();
    const { verifier, threshold, mirror, thresholdNote } = resolveVerification(this.verification, options);
    const timings = newTimings();
    const sides = [imageA, imageB].map((input) =>
      this.largestFace(embedder, this.toImage(input, timings), options.detector ?? {}, mirror, undefined, timings),
    );
    const [a, b] = sides;
    const notes: string[] = [];
    sides.forEach((side, i) => {
      const name = i === 0 ? 'A' : 'B';
      if (side.found === 0) notes.push(`no face in image ${name}`);
      else if (side.faint) notes.push(`image ${name}: no face passed the detector's score threshold; compared a fainter one (score ${side.face!.score.toFixed(2)})`);
      if (side.found > 1) notes.push(`image ${name} has ${side.found} faces: compared the largest`);
    });
    const score = a.embedding && b.embedding ? verifier.score(a.embedding, b.embedding) : null;
    if (score !== null && thresholdNote) notes.push(thresholdNote);
    timings.totalMs = now() - start;
    return {
      score,
      threshold,
      same: score !== null && threshold !== null ? score >= threshold : null,
      verifier: verifier.name,
      mirror,
      faceA: a.face,
      faceB: b.face,
      facesFoundA: a.found,
      facesFoundB: b.found,
      note: notes.length ? notes.join('; ') : 'one face in each image',
      timings,
    };
  }

  /**
   * An empty FaceMatcher for this recognizer's embeddings: its model identity, and the metric,
   * mirroring and threshold verify() uses (the model's verification rule) unless a threshold is given.
   */
  createMatcher(options: MatcherOptions = {}): FaceMatcher {
    this.requireStudent();
    return matcherFor(this.model!, this.verification, options);
  }

  /**
   * A saved matcher (its toJSON()) for this recognizer: ModelMismatchError when it holds another
   * model's embeddings. Its threshold is `options.threshold`, else the saved one.
   */
  loadMatcher(json: unknown, options: MatcherOptions = {}): FaceMatcher {
    this.requireStudent();
    return matcherFor(this.model!, this.verification, options, json);
  }

  /** Releases the models (and the engine, if this recognizer created it). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.detector.dispose();
    this.landmarkModel.dispose();
    this.studentModel?.dispose();
    if (this.ownsEngine) this.engine.dispose();
  }

  private assertUsable(): void {
    if (this.disposed) throw new DisposedError('this FaceRecognizer has been disposed');
  }

  private requireStudent(): Embedder {
    this.assertUsable();
    if (!this.embedder) throw new StudentModelMissingError(this.studentMissing);
    return this.embedder;
  }

  private toImage(input: ImageInput, timings: Timings): RgbImage {
    this.assertUsable();
    if (input instanceof Uint8Array) {
      const start = now();
      const image = decodeImage(input, { maxPixels: this.maxPixels });
      timings.decodeMs += now() - start;
      return image;
    }
    if (typeof input !== 'object' || input === null) {
      throw new ImageDecodeError(`expected an RgbImage or the bytes of a JPEG/PNG file, got ${input === null ? 'null' : typeof input}`);
    }
    assertRgbImage(input);
    return input;
  }

  private detect(image: RgbImage, options: DetectorOptions, timings: Timings): Detection[] {
    const start = now();
    const detections = this.detector.detect(image, { ...this.detectorDefaults, ...options });
    timings.detectMs += now() - start;
    return detections;
  }

  private locate(image: RgbImage, detections: Detection[], timings: Timings): DetectedFace[] {
    const start = now();
    const points = this.landmarks.detect(detections.map((d) => ({ image, box: d.box })), LANDMARK_PASSES, { upright: this.uprightLandmarks });
    timings.landmarksMs += now() - start;
    return detections.map((d, i) => locatedFace(d, points[i]));
  }

  /**
   * The largest detected face, else the fallback box's, located and embedded. Every detector size
   * runs, and the face is the box of it (one per size) whose landmarks fit best (see
   * LandmarkNet.fitBest): on LFW this keeps the photo path's alignment on the face where the
   * largest box alone put the landmarks in a clump (npm run photo-path-agreement).
   */
  private largestFace(embedder: Embedder, image: RgbImage, detector: DetectorOptions, mirror: boolean, fallbackBox: Box | undefined, timings: Timings) {
    const start = now();
    const options = { ...this.detectorDefaults, ...detector };
    let { faces, candidates } = this.detector.detectWithCandidates(image, options);
    // the caller expects a face here: a faint one beats none, unless they chose the threshold
    const faint = !faces.length && options.scoreThreshold === undefined;
    if (faint) ({ faces, candidates } = this.detector.detectWithCandidates(image, { ...options, scoreThreshold: FAINT_FACE_THRESHOLD }));
    timings.detectMs += now() - start;
    const largest = faces.reduce<Detection | null>((best, d) => (!best || area(d.box) > area(best.box) ? d : best), null);
    const fallback = fallbackBox ? [{ box: fallbackBox, score: 0 }] : [];
    const boxes = largest ? [largest, ...candidates.filter((d) => d !== largest && boxIou(d.box, largest.box) > SAME_FACE_IOU)] : fallback;
    if (!boxes.length) return { face: null, found: 0, embedding: null, faint: false };
    const landmarksStart = now();
    const { points, index } = this.landmarks.fitBest(image, boxes.map((d) => d.box), LANDMARK_PASSES, { upright: this.uprightLandmarks });
    timings.landmarksMs += now() - landmarksStart;
    const face = locatedFace(boxes[index], points);
    const [embedding] = this.embed(embedder, image, [face], mirror, timings);
    return { face, found: faces.length, embedding, faint: faint && largest !== null };
  }

  private embed(embedder: Embedder, image: RgbImage, faces: DetectedFace[], mirror: boolean, timings: Timings): Float32Array[] {
    const start = now();
    const dim = embedder.dimension;
    const plain = embedder.embed(image, faces, false);
    const mirrored = mirror ? embedder.embed(image, faces, true) : null;
    const embeddings = faces.map((_, i) => {
      const e = plain.slice(i * dim, (i + 1) * dim);
      if (mirrored) for (let k = 0; k < dim; k++) e[k] = (e[k] + mirrored[i * dim + k]) / 2;
      return e;
    });
    timings.embedMs += now() - start;
    return embeddings;
  }


}

/** A detection with its 68 landmarks and what they imply. */
function locatedFace(detection: Detection, landmarks68: Point[]): DetectedFace {
  const landmarks5 = landmarks68To5(landmarks68);
  return { box: detection.box, score: detection.score, landmarks68, landmarks5, landmarks: namedLandmarks(landmarks5), regions: landmarkRegions(landmarks68) };
}

/**
 * The detector's score threshold for the one face verify() and embedLargestFace() look for when
 * none passes the model's own (0.5): a pair scored on a faint face beats a failed pair. 0.3 is
 * the lower setting the detector options suggest for missed faces; eval-pairs counts the photos
 * still left without a face.
 */
export const FAINT_FACE_THRESHOLD = 0.3;

/** A candidate box overlapping the chosen face by more than this IoU is a box of the same face. */
const SAME_FACE_IOU = 0.3;

/** A face crop's detector input: its longer side rounded up to the detector's 32-pixel step, within 128..416. */
function faceCropInputSize({ width, height }: RgbImage): number {
  return Math.min(416, Math.max(128, Math.ceil(Math.max(width, height) / 32) * 32));
}

/** Where a face crop's face is when the detector finds none: the centred square of 60% of the shorter side. */
function centredFaceBox({ width, height }: RgbImage): Box {
  const side = Math.min(width, height) * 0.6;
  return { x: (width - side) / 2, y: (height - side) / 2, width: side, height: side };
}
