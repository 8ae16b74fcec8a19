/** etcd v2's error codes (1xx command, 2xx form, 3xx raft, 4xx server) and their messages. */
export const ErrorCodes = {
  KeyNotFound: 100,
  TestFailed: 101,
  NotFile: 102,
  NotDir: 104,
  NodeExist: 105,
  RootReadOnly: 107,
  DirNotEmpty: 108,
  Unauthorized: 110,
  ValueRequired: 200,
  PrevValueRequired: 201,
  TtlNaN: 202,
  IndexNaN: 203,
  InvalidField: 209,
  InvalidForm: 210,
  RefreshValue: 211,
  RefreshTtlRequired: 212,
  RaftInternal: 300,
  LeaderElect: 301,
  WatcherCleared: 400,
  EventIndexCleared: 401,
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const MESSAGES: Readonly<Record<ErrorCode, string>> = {
  100: 'Key not found',
  101: 'Compare failed',
  102: 'Not a file',
  104: 'Not a directory',
  105: 'Key already exists',
  107: 'Root is read only',
  108: 'Directory not empty',
  110: 'The request requires user authentication',
  200: 'Value is Required in POST form',
  201: 'PrevValue is Required in POST form',
  202: 'The given TTL in POST form is not a number',
  203: 'The given index in POST form is not a number',
  209: 'Invalid field',
  210: 'Invalid POST form',
  211: 'Value provided on refresh',
  212: 'A TTL must be provided on refresh',
  300: 'Raft Internal Error',
  301: 'During Leader Election',
  400: 'watcher is cleared due to etcd recovery',
  401: 'The event in requested index is outdated and cleared',
};

/** The JSON body of an error, fields in etcd's order. */
export interface StoreErrorBody {
  errorCode: number;
  message: string;
  cause?: string;
  index: number;
}

/** A failed operation, with etcd's code, message, cause and the store index it reports. */
export class StoreError extends Error {
  readonly errorCode: ErrorCode;
  readonly errorCause: string | undefined;
  readonly index: number;

  constructor(errorCode: ErrorCode, errorCause: string | undefined, index: number) {
    super(MESSAGES[errorCode]);
    this.name = 'StoreError';
    this.errorCode = errorCode;
    this.errorCause = errorCause;
    this.index = index;
  }

  toJSON(): StoreErrorBody {
    const body: StoreErrorBody = { errorCode: this.errorCode, message: this.message, index: this.index };
    if (this.errorCause !== undefined && this.errorCause !== '') body.cause = this.errorCause;
    // Rebuild in etcd's key order: errorCode, message, cause, index.
    return body.cause === undefined
      ? { errorCode: body.errorCode, message: body.message, index: body.index }
      : { errorCode: body.errorCode, message: body.message, cause: body.cause, index: body.index };
  }
}
