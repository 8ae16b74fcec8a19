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

/**
 * Waits until `key` is the oldest file in `dir`: the turn of a lock waiter or an election
 * candidate. Each waiter watches only the key just ahead of it, so a release wakes one waiter,
 * not all of them. Throws LeaseLostError when `key` is no longer in line.
 */
export async function waitForTurn(client: Pick<KeysClient, 'get' | 'watch'>, dir: string, key: string, signal: AbortSignal): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const { children, etcdIndex } = await childrenInOrder(client, dir);
    const position = children.findIndex((child) => child.key === key);
    if (position < 0) throw new LeaseLostError(`${key} is no longer in line (it expired or was deleted)`);
    if (position === 0) return;
    const ahead = children[position - 1]!.key!;
    const watcher = new Watcher(client, { key: ahead, recursive: false, afterIndex: etcdIndex, retryRounds: Infinity, signal });
    try {
      while (!isRemoval(await watcher.next())) {
        // the key ahead was only changed: it is still in line
      }
    } catch (error) {
      // Too long a wait for the history to cover: look at the line again.
      if (!(error instanceof HistoryClearedError)) throw error;
    }
  }
}

export interface TurnOptions {
  readonly ttlSeconds: number;
  /** Aborting it while waiting leaves the line (the key is deleted). */
  readonly signal: AbortSignal;
  readonly warn?: (message: string) => void;
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
    await waitForTurn(client, dir, key, AbortSignal.any([options.signal, lease.signal]));
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
