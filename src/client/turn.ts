import { ErrorCode } from '../api/error-code.ts';
import type { V2Node } from '../api/wire.ts';
import { EtcdError } from './errors.ts';
import type { KeysClient } from './keys-client.ts';
import { Lease, LeaseLostError } from './lease.ts';
import { HistoryClearedError, Watcher, isRemoval } from './watcher.ts';

/** The files directly under a directory, sorted by key (oldest in-order key first); none when it is missing. */
export async function childrenInOrder(client: Pick<KeysClient, 'get'>, dir: string, quorum = true): Promise<{ children: V2Node[]; etcdIndex: number }> {
  try {
    const { event, etcdIndex } = await client.get(dir, { sorted: true, quorum });
    return { children: (event.node?.nodes ?? []).filter((n) => n.dir !== true), etcdIndex };
  } catch (error) {
    if (error instanceof EtcdError && error.errorCode === ErrorCode.KeyNotFound) return { children: [], etcdIndex: error.index };
    throw error;
  }
}

/** The turn did not come in the time allowed: `holders` hold it (their nodes, oldest first). */
export class TurnTimeout extends Error {
  readonly holders: readonly V2Node[];
  constructor(message: string, holders: readonly V2Node[]) {
    super(message);
    this.name = 'TurnTimeout';
    this.holders = holders;
  }
}

/** How a waiter waits for its turn. */
export interface WaitOptions {
  /** How many hold a turn at once: 1 for a mutex or an election, N for a counting semaphore. */
  readonly limit: number;
  /** Date.now() after which it gives up with TurnTimeout (now: only if the turn is free at once). */
  readonly deadline?: number;
  /** Told once, when the turn is not free at once, who holds it. */
  readonly onWait?: (holders: readonly V2Node[]) => void;
}

/**
 * Waits until `key` is among the `limit` oldest files in `dir`: the turn of a lock waiter, a
 * semaphore holder or an election candidate. With limit 1 each waiter watches only the key just
 * ahead of it, so a release wakes one waiter, not all of them; with more, any removal in `dir`
 * may free a place, so each waiter watches the directory. Throws LeaseLostError when `key` is no
 * longer in line, TurnTimeout when the deadline passes first.
 */
export async function waitForTurn(client: Pick<KeysClient, 'get' | 'watch'>, dir: string, key: string, signal: AbortSignal, options: WaitOptions = { limit: 1 }): Promise<void> {
  for (let told = false; ; told = true) {
    signal.throwIfAborted();
    const { children, etcdIndex } = await childrenInOrder(client, dir);
    const position = children.findIndex((child) => child.key === key);
    if (position < 0) throw new LeaseLostError(`${key} is no longer in line (it expired or was deleted)`);
    if (position < options.limit) return;
    const holders = children.slice(0, options.limit);
    if (!told) options.onWait?.(holders);
    const { deadline } = options;
    if (deadline !== undefined && Date.now() >= deadline) throw new TurnTimeout(`${dir}: held by ${holders.map((h) => h.value ?? h.key).join(', ')}`, holders);
    const waiting = deadline === undefined ? signal : AbortSignal.any([signal, AbortSignal.timeout(deadline - Date.now())]);
    const watched = options.limit === 1 ? { key: children[position - 1]!.key!, recursive: false } : { key: dir, recursive: true };
    const watcher = new Watcher(client, { ...watched, afterIndex: etcdIndex, retryRounds: Infinity, signal: waiting });
    try {
      while (!isRemoval(await watcher.next())) {
        // a refresh or a change, not a removal: no place was freed
      }
    } catch (error) {
      // The deadline passed (look once more: the turn may have come), or too long a wait for
      // the history to cover: look at the line again.
      const timedOut = waiting.aborted && !signal.aborted;
      if (!timedOut && !(error instanceof HistoryClearedError)) throw error;
    }
  }
}

export interface TurnOptions {
  readonly ttlSeconds: number;
  /** Aborting it while waiting leaves the line (the key is deleted). */
  readonly signal: AbortSignal;
  readonly warn?: (message: string) => void;
  /** How many hold a turn at once (default 1), when to give up, whom to tell about the wait. */
  readonly wait?: WaitOptions;
}

/** A place at the head of a line, kept by a lease until released. */
export interface Turn {
  readonly key: string;
  /** Aborted when the lease is lost: whoever holds the turn must stop at once. */
  readonly lost: AbortSignal;
  /** Leaves the line (deletes the key); harmless to call twice. */
  release(): Promise<void>;
}

type TurnClient = Pick<KeysClient, 'get' | 'watch' | 'createInOrder' | 'refresh' | 'deleteIdempotent'>;

/**
 * Joins the line in `dir` (an in-order key holding `value`, under a TTL kept alive) and waits for
 * its turn: a fair mutex when `dir` is a lock's directory, a campaign when it is an election's.
 */
export async function takeTurn(client: TurnClient, dir: string, value: string, options: TurnOptions): Promise<Turn> {
  const sentAt = Date.now();
  const { event } = await client.createInOrder(dir, value, { ttl: options.ttlSeconds });
  const key = event.node!.key!;
  const lease = new Lease(client, key, { ttlSeconds: options.ttlSeconds, ...(options.warn ? { warn: options.warn } : {}) });
  lease.start(sentAt);
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    lease.close();
    // A lost lease's key is gone, or expires within moments: no request that could hang.
    if (!lease.signal.aborted) await deleteQuietly(client, key);
  };
  try {
    await waitForTurn(client, dir, key, AbortSignal.any([options.signal, lease.signal]), options.wait);
  } catch (error) {
    await release().catch(() => undefined);
    throw error;
  }
  return { key, lost: lease.signal, release };
}

/** Deletes a key; one that is already gone is fine. */
export async function deleteQuietly(client: Pick<KeysClient, 'deleteIdempotent'>, key: string): Promise<void> {
  try {
    await client.deleteIdempotent(key);
  } catch (error) {
    if (!(error instanceof EtcdError && error.errorCode === ErrorCode.KeyNotFound)) throw error;
  }
}
