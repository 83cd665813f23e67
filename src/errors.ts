/**
 * Base class of every error this package throws on purpose. Each class names itself with a
 * field (`override name = 'ImageDecodeError'`), not from its constructor's name, which a
 * minifier renames in the browser bundles and in users' own bundles.
 */
export class MobileIdError extends Error {
  override name = 'MobileIdError';
}

/** A model file is truncated, tampered with, of an unknown version or describes an invalid graph. */
export class ModelFormatError extends MobileIdError {
  override name = 'ModelFormatError';
}

/** Input tensor of the wrong length, batch size or containing NaN/Infinity. */
export class InputError extends MobileIdError {
  override name = 'InputError';
}

/** A model or engine was used after dispose(). */
export class DisposedError extends MobileIdError {
  override name = 'DisposedError';
}

/** The WebAssembly module could not be instantiated or memory could not grow. */
export class EngineError extends MobileIdError {
  override name = 'EngineError';
}

/** A bundled asset (the wasm kernels or a model file) is not where this build looks for it. */
export class AssetNotFoundError extends MobileIdError {
  override name = 'AssetNotFoundError';
}

const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory, not a file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

/** A file given by path could not be read; `code` is the system's (ENOENT, EISDIR, EACCES, ...). */
export class FileReadError extends MobileIdError {
  override name = 'FileReadError';
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }

  /** The typed form of a failed read of `path` (a file system error such as Node's ENOENT). */
  static from(path: string, cause: unknown): FileReadError {
    const code = (cause as { code?: string } | null)?.code;
    const problem = (code && FILE_PROBLEMS[code]) ?? (cause as Error)?.message ?? String(cause);
    return new FileReadError(path, code, `cannot read ${path}: ${problem}`);
  }
}
