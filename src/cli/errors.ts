import { ErrorCode, isUnavailableCode } from '../api/error-code.ts';
import { ApiError, EtcdError, ProtocolError, UnavailableError } from '../client/errors.ts';
import { ExitCode } from './exit-code.ts';

/** Bad arguments, or a request that makes no sense before it is sent. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Maps any error that reaches the top of a command to its exit code. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof UsageError || error instanceof RangeError) return ExitCode.USAGE;
  if (error instanceof UnavailableError) return ExitCode.UNAVAILABLE;
  if (error instanceof ProtocolError) return ExitCode.UNAVAILABLE;
  if (error instanceof ApiError) {
    if (error.status === 404) return ExitCode.KEY_NOT_FOUND;
    if (error.status === 409 || error.status === 412) return ExitCode.PRECONDITION_FAILED;
    return error.status >= 500 ? ExitCode.UNAVAILABLE : ExitCode.REJECTED;
  }
  if (error instanceof EtcdError) {
    if (error.errorCode === ErrorCode.KeyNotFound) return ExitCode.KEY_NOT_FOUND;
    if (error.errorCode === ErrorCode.TestFailed || error.errorCode === ErrorCode.NodeExist) {
      return ExitCode.PRECONDITION_FAILED;
    }
    if (isUnavailableCode(error.errorCode) || error.status >= 500) return ExitCode.UNAVAILABLE;
    return ExitCode.REJECTED;
  }
  return ExitCode.INTERNAL;
}

/** The one line printed on stderr for an error. */
export function describeError(error: unknown): string {
  if (error instanceof EtcdError) return `Error: ${error.describe()}`;
  if (error instanceof Error) {
    const known = error instanceof UsageError || error instanceof RangeError || error instanceof UnavailableError || error instanceof ProtocolError || error instanceof ApiError;
    return known ? `Error: ${error.message}` : `Error: internal: ${error.stack ?? error.message}`;
  }
  return `Error: ${String(error)}`;
}
