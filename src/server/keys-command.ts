import type { StoreEvent } from '../store/event.ts';
import type { TreeNode } from '../store/node.ts';
import type { Store } from '../store/store.ts';
import { ErrorCodes, StoreError } from '../store/store-error.ts';
import { expireTimeFor } from '../store/store.ts';
import type { TxnCompare, TxnOutcome } from '../store/transaction.ts';
import { runTransaction } from '../store/transaction.ts';
import type { KeysRequest } from './keys-request.ts';

/**
 * A write as it travels through Raft: what to do and the proposing member's clock, so that every
 * member applies it identically (the expire time is absolute).
 */
export interface KeysCommand {
  readonly method: 'PUT' | 'POST' | 'DELETE' | 'QGET';
  readonly key: string;
  readonly value: string;
  readonly dir: boolean;
  readonly prevValue: string;
  readonly prevIndex: number;
  readonly prevExist?: boolean;
  readonly recursive: boolean;
  readonly sorted: boolean;
  readonly refresh: boolean;
  /** ms since the epoch at the proposing member; 0 for none. */
  readonly expireTime: number;
  readonly now: number;
}

/** The command for a write (or a quorum GET) received at time `now`. */
export function commandFor(request: KeysRequest, now: number): KeysCommand {
  const method = request.method === 'GET' || request.method === 'HEAD' ? 'QGET' : request.method;
  return {
    method,
    key: request.key,
    value: request.value,
    dir: request.dir,
    prevValue: request.prevValue,
    prevIndex: request.prevIndex,
    ...(request.prevExist !== undefined ? { prevExist: request.prevExist } : {}),
    recursive: request.recursive,
    sorted: request.sorted,
    refresh: request.refresh === true,
    expireTime: expireTimeFor(request.ttl, now),
    now,
  };
}

/** Applies a command to the store, choosing the operation as etcd's v2 applier does. */
export function applyCommand(store: Store, command: KeysCommand): StoreEvent {
  const ttl = { expireTime: command.expireTime, refresh: command.refresh };
  const { key, value, dir, prevValue, prevIndex, now } = command;
  switch (command.method) {
    case 'QGET':
      return store.get(key, command.recursive, command.sorted, now);
    case 'POST':
      return store.create(key, dir, value, true, ttl, now);
    case 'DELETE':
      if (prevIndex > 0 || prevValue !== '') return store.compareAndDelete(key, prevValue, prevIndex, now);
      return store.delete(key, dir, command.recursive, now);
    case 'PUT':
      if (command.prevExist === true) {
        if (prevIndex === 0 && prevValue === '') return store.update(key, value, ttl, now);
        return store.compareAndSwap(key, prevValue, prevIndex, value, ttl, now);
      }
      if (command.prevExist === false) return store.create(key, dir, value, false, ttl, now);
      if (prevIndex > 0 || prevValue !== '') return store.compareAndSwap(key, prevValue, prevIndex, value, ttl, now);
      return store.set(key, dir, value, ttl, now);
  }
}

/** A transaction (POST /v2/txn) as it travels through Raft: one entry, applied all or nothing. */
export interface TxnCommand {
  readonly compare: readonly TxnCompare[];
  readonly success: readonly KeysCommand[];
  readonly failure: readonly KeysCommand[];
}

/**
 * The most bytes of keys and values a transaction's gets may return together. A get in a
 * transaction is answered from the state at its entry, so it is built in the Raft loop of every
 * member at once (where a GET is produced in slices); 128 gets of a 16 MB tree blocked it 10 s.
 * A constant, not a flag: every member must refuse the same transactions.
 */
export const TXN_READ_BYTES = 2 * 1024 * 1024;
/** What a node costs beside its key and value: its indexes, flags and JSON punctuation. */
const NODE_OVERHEAD_BYTES = 64;

/** Applies a transaction; throws TxnOperationError when an operation of the chosen branch fails. */
export function applyTxnCommand(store: Store, command: TxnCommand): TxnOutcome {
  let readBudget = TXN_READ_BYTES;
  const operation = (keys: KeysCommand) => (target: Store) => {
    if (keys.method === 'QGET') readBudget = chargeRead(target, keys, readBudget);
    return applyCommand(target, keys);
  };
  return runTransaction(store, command.compare, command.success.map(operation), command.failure.map(operation));
}

/** What is left of `budget` after the get `keys` asks for; throws a StoreError if it is over. */
function chargeRead(store: Store, keys: KeysCommand, budget: number): number {
  const node = store.find(keys.key);
  if (node === undefined) return budget;
  const left = bytesLeftAfter(node, keys.key, true, keys.recursive, budget);
  if (left < 0) throw new StoreError(ErrorCodes.InvalidField, `a transaction's gets return more than ${TXN_READ_BYTES} bytes together: read ${keys.key} with GET`, store.index);
  return left;
}

/** `budget` less what the node's view takes (counting hidden children too); stops once below 0. */
function bytesLeftAfter(node: TreeNode, path: string, withChildren: boolean, recursive: boolean, budget: number): number {
  let left = budget - path.length - node.value.length - NODE_OVERHEAD_BYTES;
  if (node.children === null || !withChildren) return left;
  for (const [name, child] of node.children) {
    if (left < 0) break;
    left = bytesLeftAfter(child, `${path}/${name}`, recursive, recursive, left);
  }
  return left;
}
