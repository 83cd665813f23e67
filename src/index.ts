/**
 * mobileid: face recognition in WebAssembly. The package's API, one list, grouped by layer from
 * the top; each runtime entry (runtime/api.ts) adds only its init() and input decoding.
 *
 *   const recognizer = await FaceRecognizer.create();
 *   const result = recognizer.verify(photoA, photoB);   // { same, score, threshold, ... }
 */

// the recognizer: detect, align, embed, verify
export {
  FaceRecognizer,
  StudentModelMissingError,
  VerifyOptionError,
  type DetectedFace,
  type EmbedOptions,
  type EmbeddedFace,
  type ImageInput,
  type LargestFace,
  type LargestFaceOptions,
  type RecognizerModels,
  type RecognizerOptions,
  type Timings,
  type VerificationDefaults,
  type VerifyOptions,
  type VerifyResult,
} from './face/recognizer.js';
export { TinyFaceDetector, DetectorModelError, DetectorOptionError, type Detection, type DetectorOptions } from './face/detector.js';
export { LandmarkNet, TeacherNet, StudentNet, boxFromLandmarks, type Box, type TeacherOutput } from './face/networks.js';
export { fitSimilarity, alignForStudent, alignForTeacher, AlignmentError, type Similarity } from './face/align.js';
export { landmarks68To5, type Point } from './face/landmarks.js';
export { studentGraph, STUDENT_INPUT } from './face/student-graph.js';

// verification and galleries
export { createVerifier, type Verifier, type VerifierKind } from './verify/verifier.js';
export { JointBayesianModel, fitJointBayesian } from './verify/joint-bayesian.js';
export { VerifierError } from './verify/errors.js';
export { tsne, maxPerplexity, TsneInputError, type TsneOptions } from './gallery/tsne.js';

// images and errors
export { decodeImage, fromRgb, fromRgba, mirrorImage, encodePng, ImageDecodeError, ImageShapeError, type RgbImage } from './image.js';
export { MobileIdError, ModelFormatError, InputError, DisposedError, EngineError, AssetNotFoundError, FileReadError } from './errors.js';

// the engine underneath, for models in this project's format
export { Engine, type Kernels, type WasmSource } from './engine/engine.js';
export { Model, PRECISIONS, type LoadOptions, type Precision } from './engine/model.js';
export { decodeModel, encodeModel, FORMAT_VERSION, type DecodedModel, type StorageDtype, type Tensor } from './engine/model-format.js';
export type { GraphSpec, Layer, Preprocess, Activation } from './engine/graph.js';
export { BUNDLED_MODELS, loadBundledModel, loadDefaultWasm, type BundledModelName } from './engine/assets.js';
