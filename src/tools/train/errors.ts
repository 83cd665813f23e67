/** Errors thrown by the training code (all subclasses of the package's MobileIdError). */
import { MobileIdError } from '../../errors.js';

/** Invalid training options, shapes or state (bad batch size, wrong target length, ...). */
export class TrainingError extends MobileIdError {
  override name = 'TrainingError';
}

/** The graph has a layer (or layer setting) that the trainer cannot differentiate. */
export class UnsupportedLayerError extends TrainingError {
  override name = 'UnsupportedLayerError';
}

/** A checkpoint file is unreadable or does not match the run being resumed. */
export class CheckpointError extends MobileIdError {
  override name = 'CheckpointError';
}
