/**
 * Entry of `mobileid/engine`: the building blocks under FaceRecognizer, for advanced use and
 * for models in this project's format. Runtime-neutral; the same in every build.
 *
 *   import { Engine, loadBundledModel, StudentNet } from 'mobileid/engine';
 *   const engine = await Engine.create();
 *   const student = new StudentNet(engine.loadModel(await loadBundledModel('mobileid')));
 */
export { Engine, type Kernels, type WasmSource } from '../engine/engine.js';
export { Model, PRECISIONS, type LoadOptions, type Precision } from '../engine/model.js';
export { decodeModel, encodeModel, modelFingerprint, FORMAT_VERSION, type DecodedModel, type StorageDtype, type Tensor } from '../engine/model-format.js';
export type { GraphSpec, Layer, Preprocess, Activation } from '../engine/graph.js';
export { BUNDLED_MODELS, loadBundledModel, loadDefaultWasm, type BundledModelName } from '../engine/assets.js';

// the networks and the face geometry
export { TinyFaceDetector, type Detection } from '../face/detector.js';
export { LandmarkNet, TeacherNet, StudentNet, boxFromLandmarks, type TeacherOutput } from '../face/networks.js';
export { fitSimilarity, alignForStudent, alignForTeacher, type Similarity } from '../face/align.js';
export { landmarks68To5, namedLandmarks, landmarkRegions, LANDMARKS_68 } from '../face/landmarks.js';
export { studentGraph, STUDENT_INPUT } from '../face/student-graph.js';

// verifiers and galleries
export { createVerifier, type Verifier, type VerifierKind } from '../verify/verifier.js';
export { JointBayesianModel, fitJointBayesian } from '../verify/joint-bayesian.js';
export { NotFittedError, SingularCovarianceError, TooFewIdentitiesError } from '../verify/errors.js';
export { tsne, maxPerplexity, TsneInputError, type TsneOptions } from '../gallery/tsne.js';

// pixel helpers
export { fromRgb, fromRgba, mirrorImage, encodePng } from '../image.js';
