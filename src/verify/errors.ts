/** The errors the verifiers (verifier.ts, joint-bayesian.ts) throw on purpose. */
import { MobileIdError } from '../errors.js';

/** Base class of the verifiers' errors. */
export class VerifierError extends MobileIdError {
  override name = 'VerifierError';
}
/** Rows, labels or features whose sizes disagree with the dimensions given or fitted. */
export class FeatureDimensionError extends VerifierError {
  override name = 'FeatureDimensionError';
}
/** Non-finite feature values or invalid options. */
export class VerifierInputError extends VerifierError {
  override name = 'VerifierInputError';
}
/** Not enough labelled data to estimate within- and between-identity covariance. */
export class TooFewIdentitiesError extends VerifierError {
  override name = 'TooFewIdentitiesError';
}
/** A covariance is singular (e.g. constant features without a ridge). */
export class SingularCovarianceError extends VerifierError {
  override name = 'SingularCovarianceError';
}
/** A verifier was used for scoring before fit(). */
export class NotFittedError extends VerifierError {
  override name = 'NotFittedError';
}
/** A saved verifier file is truncated, tampered with or of an unknown version. */
export class VerifierFormatError extends VerifierError {
  override name = 'VerifierFormatError';
}
/** Embeddings (or a saved matcher) of one model used with another: their scores would mean nothing. */
export class ModelMismatchError extends VerifierError {
  override name = 'ModelMismatchError';
}
