/**
 * mobileid: face recognition in WebAssembly. The package's main API, one list shared by every
 * runtime entry (runtime/api.ts; each entry adds its init() and toRgbImage()):
 *
 *   recognizer   FaceRecognizer: detect, landmarks, embed, verify; its options and results
 *   matcher      FaceMatcher: who is this face among enrolled people, or unknown; save/load
 *   image input  RgbImage and decodeImage (toRgbImage comes with each runtime entry)
 *   errors       MobileIdError and every typed error these throw
 *
 * The engine and the building blocks underneath (networks, alignment, verifiers, t-SNE, model
 * format) are the subpath `mobileid/engine` (runtime/engine.ts).
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
  type MatcherOptions,
  type RecognizerModels,
  type RecognizerOptions,
  type Timings,
  type VerificationDefaults,
  type VerifyOptions,
  type VerifyResult,
} from './face/recognizer.js';
export { DetectorModelError, DetectorOptionError, type DetectorOptions } from './face/detector.js';
export type { Box } from './face/networks.js';
export { AlignmentError, LANDMARK_REGIONS, type LandmarkRegions, type NamedLandmarks, type Point } from './face/landmarks.js';

// the matcher: identification among enrolled people
export {
  FaceMatcher,
  UNKNOWN,
  type Candidate,
  type EmbeddingInput,
  type MatchMetric,
  type MatchResult,
  type MatcherJson,
  type ModelIdentity,
} from './verify/matcher.js';
export { FeatureDimensionError, ModelMismatchError, VerifierError, VerifierFormatError, VerifierInputError } from './verify/errors.js';

// image input
export { decodeImage, ImageDecodeError, ImageShapeError, ImageTooLargeError, MAX_DECODE_PIXELS, type DecodeOptions, type RgbImage } from './image.js';

// errors shared by every layer
export { MobileIdError, ModelFormatError, InputError, DisposedError, EngineError, AssetNotFoundError, FileReadError } from './errors.js';

// the engine a recognizer runs on (init() of each runtime entry makes the shared one)
export type { Engine, WasmSource } from './engine/engine.js';
