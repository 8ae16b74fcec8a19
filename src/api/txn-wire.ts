// JSON shapes of kvd's transaction extension, POST /v2/txn (docs/api.md), as the server reads and
// writes them and the client sends and reads them.
import type { V2ErrorBody, V2Event } from './wire.ts';

/** A condition: every field given must hold (prevValue / prevIndex need a file). */
export interface TxnCompareBody {
  key: string;
  prevValue?: string;
  prevIndex?: number;
  prevExist?: boolean;
}

export type TxnAction = 'get' | 'set' | 'create' | 'delete';

/** An operation: its action and the v2 query parameters that action takes, by the same names. */
export interface TxnOperationBody {
  action: TxnAction;
  key: string;
  /** set, create. */
  value?: string;
  ttl?: number;
  /** set, create, delete. */
  dir?: boolean;
  /** set. */
  refresh?: boolean;
  prevExist?: boolean;
  /** delete, get. */
  recursive?: boolean;
  /** get. */
  sorted?: boolean;
}

export interface TxnRequestBody {
  compare?: TxnCompareBody[];
  success?: TxnOperationBody[];
  failure?: TxnOperationBody[];
}

/** 200: which branch ran, and per operation the body the single-key API answers for it. */
export interface TxnResponseBody {
  succeeded: boolean;
  responses: V2Event[];
}

/** An operation of the chosen branch failed: its v2 error, and its position in the branch. */
export interface TxnErrorBody extends V2ErrorBody {
  failedOperation?: number;
}

/** The fields each action accepts besides action and key. */
export const TXN_FIELDS: Readonly<Record<TxnAction, readonly string[]>> = {
  set: ['value', 'ttl', 'dir', 'refresh', 'prevExist'],
  create: ['value', 'ttl', 'dir'],
  delete: ['recursive', 'dir'],
  get: ['recursive', 'sorted'],
};
