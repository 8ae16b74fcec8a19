import { ErrorCode, isUnavailableCode } from '../api/error-code.ts';
import { ApiError, EtcdError, ProtocolError, UnavailableError } from '../client/errors.ts';
import { MalformedExportError } from '../client/export-format.ts';
import { LeaseLostError } from '../client/lease.ts';
import { InstanceTaken } from '../client/services.ts';
import { TurnTimeout } from '../client/turn.ts';
import { HistoryClearedError } from '../client/watcher.ts';
import { ExitCode } from './exit-code.ts';
import { ChildError } from './child.ts';
import { Interrupted } from './signals.ts';

/** Bad arguments, or a request that makes no sense before it is sent. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A file the command was given cannot be used (damaged, of another kind, in the way): exit 1, no usage hint. */
export class BadFile extends Error {
  readonly code = 'BAD_FILE';
  constructor(message: string) {
    super(message);
    this.name = 'BadFile';
  }
}

/** Nothing to return: an empty queue, a service without a live instance. */
export class NothingFound extends Error {
  readonly code = 'NOTHING_FOUND';
  constructor(message: string) {
    super(message);
    this.name = 'NothingFound';
  }
}

/** Maps any error that reaches the top of a command to its exit code. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError || error instanceof RangeError || error instanceof ChildError || error instanceof MalformedExportError || error instanceof BadFile) return ExitCode.USAGE;
  if (error instanceof NothingFound) return ExitCode.KEY_NOT_FOUND;
  if (error instanceof TurnTimeout || error instanceof InstanceTaken) return ExitCode.PRECONDITION_FAILED;
  if (error instanceof UnavailableError) return ExitCode.UNAVAILABLE;
  if (error instanceof LeaseLostError) return ExitCode.SESSION_LOST;
  if (error instanceof HistoryClearedError) return ExitCode.HISTORY_CLEARED;
  if (error instanceof Interrupted) return error.exitCode;
  if (error instanceof ProtocolError) return ExitCode.UNAVAILABLE;
  if (error instanceof ApiError) {
    if (error.status === 404) return ExitCode.KEY_NOT_FOUND;
    if (error.status === 409 || error.status === 412) return ExitCode.PRECONDITION_FAILED;
    return error.status >= 500 && error.status !== 501 ? ExitCode.UNAVAILABLE : ExitCode.REJECTED;
  }
  if (error instanceof EtcdError) {
    if (error.errorCode === ErrorCode.KeyNotFound) return ExitCode.KEY_NOT_FOUND;
    if (error.errorCode === ErrorCode.TestFailed || error.errorCode === ErrorCode.NodeExist) {
      return ExitCode.PRECONDITION_FAILED;
    }
    if (error.errorCode === ErrorCode.EventIndexCleared) return ExitCode.HISTORY_CLEARED;
    if (isUnavailableCode(error.errorCode) || error.status >= 500) return ExitCode.UNAVAILABLE;
    return ExitCode.REJECTED;
  }
  return ExitCode.INTERNAL;
}

/** The code of the error thrown when the storage engine cannot be loaded safely (scripts/shims/node-gyp-build.cjs). */
const NATIVE_ADDON_REFUSED = 'KVD_NATIVE_ADDON';

/** The one line printed on stderr for an error. */
export function describeError(error: unknown): string {
  if (error instanceof EtcdError) return `Error: ${error.describe()}`;
  if (error instanceof Error) {
    const known = [UsageError, RangeError, UnavailableError, ProtocolError, ApiError, LeaseLostError, HistoryClearedError, Interrupted, ChildError, NothingFound, TurnTimeout, InstanceTaken, MalformedExportError, BadFile].some((kind) => error instanceof kind) || (error as NodeJS.ErrnoException).code === NATIVE_ADDON_REFUSED;
    return known ? `Error: ${error.message}` : `Error: internal: ${error.stack ?? error.message}`;
  }
  return `Error: ${String(error)}`;
}
