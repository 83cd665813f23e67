/**
 * What every runtime entry exports besides its own init() and toRgbImage(): the package's
 * public API (index.ts) plus the face pipeline, which index.ts does not export yet.
 */
export * from '../index.js';
export {
  FaceRecognizer,
  StudentModelMissingError,
  VerifyOptionError,
  type DetectedFace,
  type EmbedOptions,
  type EmbeddedFace,
  type ImageInput,
  type RecognizerModels,
  type RecognizerOptions,
  type Timings,
  type VerificationDefaults,
  type VerifyOptions,
  type VerifyResult,
} from '../face/recognizer.js';
export { TinyFaceDetector, DetectorModelError, DetectorOptionError, type Detection, type DetectorOptions } from '../face/detector.js';
export { ImageInputError, toRgba, type RawPixels } from './pixels.js';
