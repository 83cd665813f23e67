/**
 * mobileid: face recognition in WebAssembly.
 *
 *   const engine = await Engine.create();
 *   const model = engine.loadModel(await loadBundledModel('mobileid'));
 *   const embedding = model.run(input, batch);
 */
export { Engine, type Kernels, type WasmSource } from './engine/engine.js';
export { Model, type LoadOptions } from './engine/model.js';
export { decodeModel, encodeModel, FORMAT_VERSION, type DecodedModel, type StorageDtype, type Tensor } from './engine/model-format.js';
export type { GraphSpec, Layer, Preprocess, Activation } from './engine/graph.js';
export { MobileIdError, ModelFormatError, InputError, DisposedError, EngineError, AssetNotFoundError, FileReadError } from './errors.js';
export { BUNDLED_MODELS, loadBundledModel, loadDefaultWasm, type BundledModelName } from './engine/assets.js';
export { studentGraph, STUDENT_INPUT } from './face/student-graph.js';
export { LandmarkNet, TeacherNet, StudentNet, boxFromLandmarks, type Box, type TeacherOutput } from './face/networks.js';
export { decodeImage, fromRgb, fromRgba, mirrorImage, encodePng, ImageDecodeError, ImageShapeError, type RgbImage } from './image.js';
export { fitSimilarity, alignForStudent, alignForTeacher, AlignmentError, type Similarity } from './face/align.js';
export { landmarks68To5, type Point } from './face/landmarks.js';
export { createVerifier, type Verifier, type VerifierKind } from './verify/verifier.js';
export { JointBayesianModel, fitJointBayesian } from './verify/joint-bayesian.js';
export { VerifierError } from './verify/errors.js';
export { tsne, maxPerplexity, TsneInputError, type TsneOptions } from './gallery/tsne.js';
export {
  FaceRecognizer,
  StudentModelMissingError,
  type DetectedFace,
  type VerifyResult,
} from './face/recognizer.js';
export { TinyFaceDetector, DetectorModelError, DetectorOptionError } from './face/detector.js';
