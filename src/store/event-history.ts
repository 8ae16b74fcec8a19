import type { StoreEvent } from './event.ts';
import { eventIndex } from './event.ts';
import { ErrorCodes, StoreError } from './store-error.ts';

/** etcd keeps the last 1,000 events for waitIndex. */
export const HISTORY_CAPACITY = 1000;

/** A history entry: refreshes are recorded (they take an index) but never returned by a scan. */
export interface HistoryEntry {
  readonly event: StoreEvent;
  readonly refresh: boolean;
}

/**
 * The ring of the last `capacity` events. Every index the store hands out has one entry, so the
 * entry for index i sits at a fixed offset from the oldest one.
 */
export class EventHistory {
  readonly capacity: number;
  private readonly ring: (HistoryEntry | undefined)[];
  /** Position of the oldest entry. */
  private front = 0;
  private count = 0;
  /** Index of the oldest entry (0 while empty); invariant: startIndex + count - 1 === lastIndex. */
  startIndex = 0;
  lastIndex = 0;

  constructor(capacity = HISTORY_CAPACITY) {
    this.capacity = capacity;
    this.ring = new Array<HistoryEntry | undefined>(capacity);
  }

  add(event: StoreEvent, refresh: boolean): void {
    const position = (this.front + this.count) % this.capacity;
    this.ring[position] = { event, refresh };
    if (this.count === this.capacity) this.front = (this.front + 1) % this.capacity;
    else this.count++;
    this.lastIndex = eventIndex(event);
    this.startIndex = eventIndex(this.ring[this.front]!.event);
  }

  /** The entries in index order, oldest first. */
  *entries(): IterableIterator<HistoryEntry> {
    for (let i = 0; i < this.count; i++) yield this.ring[(this.front + i) % this.capacity]!;
  }

  /**
   * Every event at or after `sinceIndex` that a watcher of `key` sees, oldest first; at most
   * `limit`. Throws 401 when `sinceIndex` is older than the history.
   */
  scan(key: string, recursive: boolean, sinceIndex: number, limit: number): StoreEvent[] {
    if (sinceIndex < this.startIndex) {
      throw new StoreError(
        ErrorCodes.EventIndexCleared,
        `the requested history has been cleared [${this.startIndex}/${sinceIndex}]`,
        0,
      );
    }
    const found: StoreEvent[] = [];
    if (sinceIndex > this.lastIndex || this.count === 0) return found;
    const prefix = key.endsWith('/') ? key : `${key}/`;
    for (let i = sinceIndex - this.startIndex; i < this.count && found.length < limit; i++) {
      const entry = this.ring[(this.front + i) % this.capacity]!;
      if (!entry.refresh && matches(entry.event, key, recursive, prefix)) found.push(entry.event);
    }
    return found;
  }

  /** Restores entries saved by `entries()`, oldest first. */
  load(entries: readonly HistoryEntry[]): void {
    this.front = 0;
    this.count = 0;
    this.startIndex = 0;
    this.lastIndex = 0;
    for (const entry of entries) this.add(entry.event, entry.refresh);
  }
}

function matches(event: StoreEvent, key: string, recursive: boolean, prefix: string): boolean {
  const eventKey = event.node.key ?? '/';
  if (eventKey === key) return true;
  if (recursive && eventKey.startsWith(prefix)) return true;
  // Deleting or expiring a directory is an event for everything that was below it. etcd compares
  // the prefix without a separator, so /foobar also sees the deletion of /foo; kvd does the same.
  const prev = event.prevNode;
  return (event.action === 'delete' || event.action === 'expire') && prev?.dir === true && key.startsWith(prev.key ?? '/');
}
