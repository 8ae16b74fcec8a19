import type { StoreEvent } from '../store/event.ts';
import type { Store } from '../store/store.ts';
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

/** Applies a transaction; throws TxnOperationError when an operation of the chosen branch fails. */
export function applyTxnCommand(store: Store, command: TxnCommand): TxnOutcome {
  const operation = (keys: KeysCommand) => (target: Store) => applyCommand(target, keys);
  return runTransaction(store, command.compare, command.success.map(operation), command.failure.map(operation));
}
