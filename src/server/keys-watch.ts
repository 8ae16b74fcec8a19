import type { StoreEvent } from '../store/event.ts';
import type { Store } from '../store/store.ts';
import type { Watcher } from '../store/watcher-hub.ts';
import type { KeysRequest } from './keys-request.ts';

/** What a watch needs of its member: the store, and word when a snapshot replaces it. */
export interface WatchHost {
  readonly store: Store;
  readonly storeReplacedListeners: Set<() => void>;
}

/**
 * A watch registered in the store (`wait=true`), for whoever answers it: the HTTP layer streams
 * it, a simulated client takes its events directly. Events that arrive before `listen` (the
 * history's, and live ones while the answer is on its way) are kept and delivered first, in
 * order. A snapshot that replaces the store ends the watch: the new store will not notify it.
 */
export class KeysWatch {
  readonly key: string;
  /** Every event until closed (`stream=true`), or the first one only. */
  readonly stream: boolean;
  /** The store's index at registration: etcd's X-Etcd-Index of a watch. */
  readonly index: number;
  private readonly host: WatchHost;
  private readonly watcher: Watcher | null;
  private readonly queued: StoreEvent[];
  private listener: ((event: StoreEvent) => void) | undefined;
  private onEnd: (() => void) | undefined;
  private replaced = false;
  private closed = false;
  private readonly storeReplaced = (): void => {
    this.replaced = true;
    this.onEnd?.();
  };

  /** Registers the watch; throws the store's StoreError (401 when `waitIndex` has left the history). */
  constructor(host: WatchHost, request: KeysRequest) {
    this.host = host;
    this.key = request.key;
    this.stream = request.stream;
    const start = host.store.watch(request.key, request.recursive, request.stream, request.waitIndex, (event) => this.take(event));
    this.index = start.index;
    this.queued = start.events;
    this.watcher = start.watcher;
    host.storeReplacedListeners.add(this.storeReplaced);
  }

  /** Whether events may still come after those already queued (false: answered from the history). */
  get live(): boolean {
    return this.watcher !== null && !this.replaced;
  }

  /**
   * Delivers the queued events now, then each later one as it happens; `onEnd` is called if the
   * store is replaced (at once, after the queued events, if it already was).
   */
  listen(listener: (event: StoreEvent) => void, onEnd: () => void): void {
    this.listener = listener;
    this.onEnd = onEnd;
    for (const event of this.queued.splice(0)) listener(event);
    if (this.replaced) onEnd();
  }

  /** Unregisters the watch: no event is delivered after this. */
  close(): void {
    this.closed = true;
    this.listener = undefined;
    this.onEnd = undefined;
    this.watcher?.remove();
    this.host.storeReplacedListeners.delete(this.storeReplaced);
  }

  private take(event: StoreEvent): void {
    if (this.closed) return;
    if (this.listener === undefined) this.queued.push(event);
    else this.listener(event);
  }
}
