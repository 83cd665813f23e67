import { MobileIdError } from '../errors.js';

/** A usage problem the CLI reports in one line, without a stack trace. */
export class CliError extends MobileIdError {
  override name = 'CliError';
}
