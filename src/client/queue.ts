import { ErrorCode } from '../api/error-code.ts';
import type { V2Node } from '../api/wire.ts';
import { EtcdError } from './errors.ts';
import type { KeysClient } from './keys-client.ts';
import { childrenInOrder } from './turn.ts';
import { nextChangeBelow } from './watcher.ts';

type QueueClient = Pick<KeysClient, 'get' | 'watch' | 'delete'>;

/**
 * Takes the oldest item of a queue (a directory of in-order keys) with compare-and-delete, so two
 * poppers never get the same item. Resolves undefined when the queue is empty and `wait` is off;
 * with `wait`, waits for an item.
 */
export async function popItem(client: QueueClient, queue: string, options: { readonly wait: boolean; readonly signal: AbortSignal }): Promise<V2Node | undefined> {
  for (;;) {
    options.signal.throwIfAborted();
    const { children, etcdIndex } = await childrenInOrder(client, queue);
    for (const item of children) {
      try {
        await client.delete(item.key!, { prevIndex: item.modifiedIndex! });
        return item;
      } catch (error) {
        // Someone else took it (or changed it): on to the next.
        const lost = error instanceof EtcdError && (error.errorCode === ErrorCode.KeyNotFound || error.errorCode === ErrorCode.TestFailed);
        if (!lost) throw error;
      }
    }
    if (children.length > 0) continue;
    if (!options.wait) return undefined;
    await nextChangeBelow(client, queue, etcdIndex, options.signal);
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
