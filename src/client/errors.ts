import type { V2ErrorBody } from '../api/wire.ts';

/** An error answered by the server in etcd's error body. */
export class EtcdError extends Error {
  readonly errorCode: number;
  override readonly cause?: string;
  readonly index: number;
  readonly status: number;

  constructor(body: V2ErrorBody, status: number) {
    super(body.message);
    this.name = 'EtcdError';
    this.errorCode = body.errorCode;
    if (body.cause !== undefined) this.cause = body.cause;
    this.index = body.index;
    this.status = status;
  }

  /** One line, as etcdctl prints it: `100: Key not found (/a) [3]`. */
  describe(): string {
    const cause = this.cause === undefined || this.cause === '' ? '' : ` (${this.cause})`;
    return `${this.errorCode}: ${this.message}${cause} [${this.index}]`;
  }
}

/** An operation of a transaction's chosen branch failed, so none of it was applied. */
export class TxnOperationFailed extends EtcdError {
  /** Its position in the branch, from 0. */
  readonly failedOperation: number;

  constructor(body: V2ErrorBody, status: number, failedOperation: number) {
    super(body, status);
    this.failedOperation = failedOperation;
  }

  override describe(): string {
    return `${super.describe()} in operation ${this.failedOperation + 1}; the transaction was not applied`;
  }
}

/** No endpoint answered in time, or the cluster said it cannot serve now. */
export class UnavailableError extends Error {
  /** Every endpoint was reached but none answered before the timeout (a long poll with nothing to report, or a hung server). */
  readonly timedOut: boolean;
  constructor(message: string, options: { readonly timedOut?: boolean } = {}) {
    super(message);
    this.name = 'UnavailableError';
    this.timedOut = options.timedOut ?? false;
  }
}

/** The server answered something that is not etcd's v2 API. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** A non-keys endpoint (members) refused a request: its HTTP status and etcd's message. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** Whether a request failed in a way worth sending again: nobody answered, or the cluster could not serve it now. */
export function isTransientError(error: unknown): boolean {
  return error instanceof UnavailableError || error instanceof ProtocolError || (error instanceof EtcdError && error.status >= 500);
}
