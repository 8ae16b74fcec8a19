import { ErrorCode } from '../api/error-code.ts';
import type { V2Node } from '../api/wire.ts';
import { EtcdError } from './errors.ts';
import type { KeysClient } from './keys-client.ts';
import { childrenInOrder } from './turn.ts';
import { nextChangeBelow } from './watcher.ts';

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

/** Waits until the queue holds at least `count` items; resolves with how many it holds. */
export async function waitForItems(client: Pick<KeysClient, 'get' | 'watch'>, queue: string, count: number, signal: AbortSignal): Promise<number> {
  for (;;) {
    const { children, etcdIndex } = await childrenInOrder(client, queue);
    if (children.length >= count) return children.length;
    await nextChangeBelow(client, queue, etcdIndex, signal);
  }
}
