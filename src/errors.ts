/** Base class of every error this package throws on purpose. */
export class MobileIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A model file is truncated, tampered with, of an unknown version or describes an invalid graph. */
export class ModelFormatError extends MobileIdError {}

/** Input tensor of the wrong length, batch size or containing NaN/Infinity. */
export class InputError extends MobileIdError {}

/** A model or engine was used after dispose(). */
export class DisposedError extends MobileIdError {}

/** The WebAssembly module could not be instantiated or memory could not grow. */
export class EngineError extends MobileIdError {}
