import { ErrorCode } from '../api/error-code.ts';
import type { V2Node } from '../api/wire.ts';
import { EtcdError } from './errors.ts';
import type { KeysClient } from './keys-client.ts';
import { childrenInOrder } from './turn.ts';
import { HistoryClearedError, Watcher, nextChangeBelow } from './watcher.ts';

type QueueClient = Pick<KeysClient, 'get' | 'watch' | 'delete' | 'txn'>;

export interface PopOptions {
  readonly wait: boolean;
  readonly signal: AbortSignal;
  /**
   * Move the item below this directory (same name, same value) in the same step, as one
   * transaction (kvd's POST /v2/txn), rather than delete it: a worker that dies holding it leaves
   * it there for someone to put back. Resolves the moved node.
   */
  readonly takenDir?: string;
}

/**
 * Takes the oldest item of a queue (a directory of in-order keys) on the condition that it is
 * unchanged (compare-and-delete, or a transaction with takenDir), so two poppers never get the
 * same item. Resolves undefined when the queue is empty and `wait` is off; with `wait`, waits for
 * an item.
 */
export async function popItem(client: QueueClient, queue: string, options: PopOptions): Promise<V2Node | undefined> {
  for (;;) {
    options.signal.throwIfAborted();
    const { children, etcdIndex } = await childrenInOrder(client, queue);
    for (const item of children) {
      const taken = await take(client, item, options.takenDir);
      if (taken !== undefined) return taken;
    }
    if (children.length > 0) continue;
    if (!options.wait) return undefined;
    await nextChangeBelow(client, queue, etcdIndex, options.signal);
  }
}

/** Takes one item; undefined when another popper took (or changed) it first. */
async function take(client: QueueClient, item: V2Node, takenDir: string | undefined): Promise<V2Node | undefined> {
  const key = item.key!;
  if (takenDir !== undefined) {
    const { succeeded, responses } = await client.txn({
      compare: [{ key, prevIndex: item.modifiedIndex! }],
      success: [{ action: 'delete', key }, { action: 'set', key: `${takenDir}/${key.slice(key.lastIndexOf('/') + 1)}`, value: item.value ?? '', prevExist: false }],
    });
    return succeeded ? responses[1]!.node : undefined;
  }
  try {
    await client.delete(key, { prevIndex: item.modifiedIndex! });
    return item;
  } catch (error) {
    const lost = error instanceof EtcdError && (error.errorCode === ErrorCode.KeyNotFound || error.errorCode === ErrorCode.TestFailed);
    if (!lost) throw error;
    return undefined;
  }
}

/**
 * The hidden key (listings skip it) that counts the items ever pushed into a queue with
 * pushCounted: popping does not lower it, so a barrier on it holds once N items were ready.
 */
export function pushedCounterKey(queue: string): string {
  return `${queue}/_pushed`;
}

/**
 * Pushes an item and raises the queue's pushed counter in one transaction (kvd's POST /v2/txn), so
 * the count never disagrees with the items, whoever crashes when. Retries when another pusher
 * raised the counter first. Resolves the item and the count including it.
 */
export async function pushCounted(client: Pick<KeysClient, 'get' | 'txn'>, queue: string, value: string): Promise<{ item: V2Node; pushed: number }> {
  const key = pushedCounterKey(queue);
  for (;;) {
    const counter = await readCounter(client, key);
    const unchanged = counter.modifiedIndex === undefined ? { key, prevExist: false } : { key, prevIndex: counter.modifiedIndex };
    const pushed = counter.count + 1;
    const { succeeded, responses } = await client.txn({
      compare: [unchanged],
      success: [{ action: 'create', key: queue, value }, { action: 'set', key, value: String(pushed) }],
    });
    if (succeeded) return { item: responses[0]!.node!, pushed };
  }
}

/** Waits until `count` items were pushed with pushCounted in all (taken ones count too); resolves the count. */
export async function waitForPushed(client: Pick<KeysClient, 'get' | 'watch'>, queue: string, count: number, signal: AbortSignal): Promise<number> {
  const key = pushedCounterKey(queue);
  for (;;) {
    const counter = await readCounter(client, key);
    if (counter.count >= count) return counter.count;
    // A hidden key's changes reach only the watchers of the key itself.
    try {
      await new Watcher(client, { key, recursive: false, afterIndex: counter.etcdIndex, retryRounds: Infinity, signal }).next();
    } catch (error) {
      if (!(error instanceof HistoryClearedError)) throw error;
    }
  }
}

/** A counter's value (0 when missing), its modifiedIndex (undefined when missing) and the index it was read at. */
async function readCounter(client: Pick<KeysClient, 'get'>, key: string): Promise<{ count: number; modifiedIndex?: number; etcdIndex: number }> {
  try {
    const { event, etcdIndex } = await client.get(key, { quorum: true });
    const count = Number(event.node?.value);
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`${key} holds "${event.node?.value}", not a count`);
    return { count, modifiedIndex: event.node!.modifiedIndex!, etcdIndex };
  } catch (error) {
    if (error instanceof EtcdError && error.errorCode === ErrorCode.KeyNotFound) return { count: 0, etcdIndex: error.index };
    throw error;
  }
}

/** Waits until the queue holds at least `count` items; resolves with how many it holds. */
export async function waitForItems(client: Pick<KeysClient, 'get' | 'watch'>, queue: string, count: number, signal: AbortSignal): Promise<number> {
  for (;;) {
    const { children, etcdIndex } = await childrenInOrder(client, queue);
    if (children.length >= count) return children.length;
    await nextChangeBelow(client, queue, etcdIndex, signal);
  }
}
