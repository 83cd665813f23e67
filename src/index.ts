/**
 * mobileid: face recognition in WebAssembly.
 *
 *   const engine = await Engine.create();
 *   const model = engine.loadModel(await loadBundledModel('mobileid'));
 *   const embedding = model.run(input, batch);
 */
export { Engine, type Kernels, type WasmSource } from './engine.js';
export { Model, type LoadOptions } from './model.js';
export { decodeModel, encodeModel, FORMAT_VERSION, type DecodedModel, type StorageDtype, type Tensor } from './model-format.js';
export type { GraphSpec, Layer, Preprocess, Activation } from './graph.js';
export { MobileIdError, ModelFormatError, InputError, DisposedError, EngineError, AssetNotFoundError, FileReadError } from './errors.js';
export { BUNDLED_MODELS, loadBundledModel, loadDefaultWasm, type BundledModelName } from './assets.js';
export { studentGraph, STUDENT_INPUT } from './networks/student.js';
export { LandmarkNet, TeacherNet, StudentNet, boxFromLandmarks, type Box, type TeacherOutput } from './faces.js';
export { decodeImage, fromRgb, fromRgba, mirrorImage, encodePng, ImageDecodeError, ImageShapeError, type RgbImage } from './image.js';
export { fitSimilarity, alignForStudent, alignForTeacher, AlignmentError, type Similarity } from './align.js';
export { landmarks68To5, type Point } from './landmarks.js';
export { createVerifier, type Verifier, type VerifierKind } from './verifier.js';
export { JointBayesianModel, fitJointBayesian, VerifierError } from './joint-bayesian.js';
export { tsne, maxPerplexity, TsneInputError, type TsneOptions } from './tsne.js';
export {
  FaceRecognizer,
  StudentModelMissingError,
  type DetectedFace,
  type VerifyResult,
} from './pipeline.js';
export { TinyFaceDetector, DetectorModelError, DetectorOptionError } from './detector.js';
