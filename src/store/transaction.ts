import type { StoreEvent } from './event.ts';
import { StoreError } from './store-error.ts';
import type { Store } from './store.ts';

/**
 * One condition of a transaction, with the v2 meanings of the names (all that are given must
 * hold): prevValue and prevIndex need a file with that value / modifiedIndex, as compareAndSwap
 * does; prevExist says whether the key (file or directory) must exist.
 */
export interface TxnCompare {
  readonly key: string;
  readonly prevValue?: string;
  readonly prevIndex?: number;
  readonly prevExist?: boolean;
}

/** One operation of a branch: a store call that returns its event or throws a StoreError. */
export type TxnOperation = (store: Store) => StoreEvent;

/** What a transaction did: which branch ran, and one event per operation of it. */
export interface TxnOutcome {
  readonly succeeded: boolean;
  readonly events: readonly StoreEvent[];
}

/** An operation of the chosen branch failed: nothing of the transaction happened. */
export class TxnOperationError extends Error {
  /** The position of the failed operation in its branch, from 0. */
  readonly operation: number;
  /** The operation's own error, reporting the store index after the rollback. */
  readonly error: StoreError;

  constructor(operation: number, error: StoreError) {
    super(`operation ${operation}: ${error.message}`);
    this.operation = operation;
    this.error = error;
  }
}

/** Whether a condition holds now: read without counting a get or expiring anything. */
export function compareHolds(store: Store, compare: TxnCompare): boolean {
  const node = store.find(compare.key);
  if (compare.prevExist !== undefined && compare.prevExist !== (node !== undefined)) return false;
  if (compare.prevValue === undefined && compare.prevIndex === undefined) return true;
  if (node === undefined || node.isDir) return false;
  if (compare.prevValue !== undefined && node.value !== compare.prevValue) return false;
  return compare.prevIndex === undefined || node.modifiedIndex === compare.prevIndex;
}

/**
 * Runs a transaction: if every compare holds the success operations run, otherwise the failure
 * ones, in order, each seeing the ones before it. All or nothing: when one throws a StoreError
 * every write before it is undone and TxnOperationError names it. The events of a transaction
 * that completes reach the history and the watchers together, in index order.
 */
export function runTransaction(
  store: Store,
  compares: readonly TxnCompare[],
  success: readonly TxnOperation[],
  failure: readonly TxnOperation[],
): TxnOutcome {
  const succeeded = compares.every((compare) => compareHolds(store, compare));
  const operations = succeeded ? success : failure;
  const events: StoreEvent[] = [];
  store.beginTransaction();
  for (const [i, operation] of operations.entries()) {
    try {
      events.push(operation(store));
    } catch (error) {
      store.rollbackTransaction();
      if (!(error instanceof StoreError)) throw error;
      throw new TxnOperationError(i, new StoreError(error.errorCode, error.errorCause, store.index));
    }
  }
  store.commitTransaction();
  return { succeeded, events };
}
