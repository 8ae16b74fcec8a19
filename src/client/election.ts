import type { KeysClient } from './keys-client.ts';
import { childrenInOrder } from './turn.ts';
import { nextChangeBelow } from './watcher.ts';

/** The candidate at the head of an election's line: its key and what it proposed. */
export interface Leadership {
  readonly key: string;
  readonly proposal: string;
}

/**
 * Yields the election's leader now (undefined when there is none), then each time it changes.
 * Any change under the election's directory makes it look again; refreshes do not wake it.
 */
export async function* observeLeader(client: Pick<KeysClient, 'get' | 'watch'>, dir: string, signal: AbortSignal): AsyncGenerator<Leadership | undefined> {
  let last: string | undefined | null = null;
  for (;;) {
    const { children, etcdIndex } = await childrenInOrder(client, dir);
    const head = children[0];
    const leader = head === undefined ? undefined : { key: head.key!, proposal: head.value ?? '' };
    if (leader?.key !== last) {
      last = leader?.key;
      yield leader;
    }
    await nextChangeBelow(client, dir, etcdIndex, signal);
  }
}
