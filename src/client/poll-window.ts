import type { V2Event } from '../api/wire.ts';
import type { KeysClient } from './keys-client.ts';
import type { WatcherOptions } from './watcher.ts';
import { Watcher } from './watcher.ts';

interface Poll {
  readonly watcher: Watcher;
  readonly event: Promise<V2Event>;
}

/**
 * A recursive watch that keeps `width` long polls in flight, at the next `width` indexes, so that
 * a follower far behind gets that many changes per round trip from the server's history, and one
 * caught up has a poll already waiting for each of the next changes. Delivers each change once,
 * in index order: the poll at the lowest index decides what comes next (the first change at or
 * after it), and polls at or below that change are dropped as they would answer the same.
 */
export class PollWindow {
  private readonly client: Pick<KeysClient, 'get' | 'watch'>;
  private readonly options: Omit<WatcherOptions, 'afterIndex'>;
  private readonly width: number;
  private readonly polls = new Map<number, Poll>();
  private nextIndex: number;
  private highestServerIndex = 0;
  /** Aborts every poll: on close, or when the caller's signal aborts (with its reason). */
  private readonly stop = new AbortController();
  private readonly forwardAbort: () => void;

  constructor(client: Pick<KeysClient, 'get' | 'watch'>, afterIndex: number, width: number, options: Omit<WatcherOptions, 'afterIndex'>) {
    this.client = client;
    this.options = options;
    this.width = Math.max(1, width);
    this.nextIndex = afterIndex + 1;
    this.forwardAbort = () => this.stop.abort(options.signal?.reason);
    if (options.signal?.aborted) this.forwardAbort();
    else options.signal?.addEventListener('abort', this.forwardAbort, { once: true });
  }

  /** Ends the polls still in flight. */
  close(): void {
    this.options.signal?.removeEventListener('abort', this.forwardAbort);
    this.stop.abort(new Error('the watch was closed'));
  }

  /** The highest X-Etcd-Index a poll was answered with. */
  get serverIndex(): number {
    return this.highestServerIndex;
  }

  /** The next change; throws as Watcher.next does (HistoryClearedError, the signal's reason, ...). */
  async next(): Promise<V2Event> {
    for (let index = this.nextIndex; index < this.nextIndex + this.width; index++) if (!this.polls.has(index)) this.polls.set(index, this.poll(index));
    const lowest = this.polls.get(this.nextIndex)!;
    const event = await lowest.event;
    this.highestServerIndex = Math.max(this.highestServerIndex, lowest.watcher.serverIndex);
    const index = event.node!.modifiedIndex!;
    for (const waitIndex of this.polls.keys()) if (waitIndex <= index) this.polls.delete(waitIndex);
    this.nextIndex = index + 1;
    return event;
  }

  private poll(waitIndex: number): Poll {
    const watcher = new Watcher(this.client, { ...this.options, afterIndex: waitIndex - 1, signal: this.stop.signal });
    const event = watcher.next();
    // A dropped poll may still fail (or be aborted): only the one at the lowest index is awaited.
    event.catch(() => undefined);
    return { watcher, event };
  }
}
