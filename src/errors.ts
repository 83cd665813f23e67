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

/** A bundled asset (the wasm kernels or a model file) is not where this build looks for it. */
export class AssetNotFoundError extends MobileIdError {}

const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory, not a file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

/** A file given by path could not be read; `code` is the system's (ENOENT, EISDIR, EACCES, ...). */
export class FileReadError extends MobileIdError {
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
