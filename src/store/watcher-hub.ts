import type { StoreEvent } from './event.ts';
import { eventIndex } from './event.ts';
import { segmentsOf } from './clean-path.ts';

export type WatchListener = (event: StoreEvent) => void;

/**
 * One registered watch. A one-shot watcher is removed after its first event; a stream stays
 * until `remove()`. A watcher never receives an event at or below an index it already saw.
 */
export class Watcher {
  readonly key: string;
  readonly recursive: boolean;
  readonly stream: boolean;
  /** Events below this index are not for this watcher. */
  sinceIndex: number;
  private readonly listener: WatchListener;
  private readonly hub: WatcherHub;
  /** Neighbours in the hub's list for `key`: removal is O(1). */
  prev: Watcher | null = null;
  next: Watcher | null = null;
  removed = false;

  constructor(hub: WatcherHub, key: string, recursive: boolean, stream: boolean, sinceIndex: number, listener: WatchListener) {
    this.hub = hub;
    this.key = key;
    this.recursive = recursive;
    this.stream = stream;
    this.sinceIndex = sinceIndex;
    this.listener = listener;
  }

  remove(): void {
    this.hub.unlink(this);
  }

  /** Delivers the event if this watcher wants it; returns whether it did. */
  deliver(event: StoreEvent, atOriginalPath: boolean, deleted: boolean): boolean {
    const index = eventIndex(event);
    if (!(this.recursive || atOriginalPath || deleted) || index < this.sinceIndex) return false;
    this.sinceIndex = index + 1;
    this.listener(event);
    return true;
  }
}

interface WatcherList {
  head: Watcher | null;
  tail: Watcher | null;
}

/** Watchers by the key they watch; notifies them of events, in index order. */
export class WatcherHub {
  private readonly lists = new Map<string, WatcherList>();
  private total = 0;

  get count(): number {
    return this.total;
  }

  add(key: string, recursive: boolean, stream: boolean, sinceIndex: number, listener: WatchListener): Watcher {
    const watcher = new Watcher(this, key, recursive, stream, sinceIndex, listener);
    let list = this.lists.get(key);
    if (list === undefined) {
      list = { head: null, tail: null };
      this.lists.set(key, list);
    }
    watcher.prev = list.tail;
    if (list.tail !== null) list.tail.next = watcher;
    else list.head = watcher;
    list.tail = watcher;
    this.total++;
    return watcher;
  }

  unlink(watcher: Watcher): void {
    if (watcher.removed) return;
    watcher.removed = true;
    const list = this.lists.get(watcher.key)!;
    if (watcher.prev !== null) watcher.prev.next = watcher.next;
    else list.head = watcher.next;
    if (watcher.next !== null) watcher.next.prev = watcher.prev;
    else list.tail = watcher.prev;
    watcher.prev = null;
    watcher.next = null;
    if (list.head === null) this.lists.delete(watcher.key);
    this.total--;
  }

  /** Notifies the watchers of the event's key and of every directory above it. */
  notify(event: StoreEvent): void {
    if (this.total === 0) return;
    const key = event.node.key ?? '/';
    let path = '';
    this.notifyAt(event, '/', false);
    for (const segment of segmentsOf(key)) {
      path = `${path}/${segment}`;
      this.notifyAt(event, path, false);
    }
  }

  /**
   * Notifies the watchers of exactly `path`. `deleted` marks a path removed together with a
   * directory: its watchers hear of it whether or not they are recursive.
   */
  notifyAt(event: StoreEvent, path: string, deleted: boolean): void {
    if (this.total === 0) return;
    const list = this.lists.get(path);
    if (list === undefined) return;
    const eventKey = event.node.key ?? '/';
    const atOriginalPath = eventKey === path;
    if (!atOriginalPath && isHiddenBelow(path, eventKey)) return;
    // A listener may remove watchers (its own or others'): walk a copy of the list.
    const watchers: Watcher[] = [];
    for (let watcher = list.head; watcher !== null; watcher = watcher.next) watchers.push(watcher);
    for (const watcher of watchers) {
      if (watcher.removed) continue;
      if (watcher.deliver(event, atOriginalPath, deleted) && !watcher.stream) this.unlink(watcher);
    }
  }
}

/** Whether `key` is hidden as seen from a watch on `watchPath`: a segment after it starts with "_". */
function isHiddenBelow(watchPath: string, key: string): boolean {
  if (watchPath.length > key.length) return false;
  const rest = key.slice(watchPath === '/' ? 0 : watchPath.length);
  return rest.includes('/_');
}
