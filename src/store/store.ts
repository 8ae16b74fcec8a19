import { cleanPath, segmentsOf } from './clean-path.ts';
import type { Action, StoreEvent } from './event.ts';
import { EventHistory } from './event-history.ts';
import type { NodeView } from './node.ts';
import { PERMANENT, TreeNode } from './node.ts';
import type { ErrorCode } from './store-error.ts';
import { ErrorCodes, StoreError } from './store-error.ts';
import type { CountedOperation, StoreStats } from './store-stats.ts';
import { emptyStats } from './store-stats.ts';
import { SlicedRead } from './sliced-read.ts';
import { SnapshotRead } from './snapshot-read.ts';
import { TtlHeap } from './ttl-heap.ts';
import type { WatchListener, Watcher } from './watcher-hub.ts';
import { WatcherHub } from './watcher-hub.ts';

/** Expire times before 2000-01-01 mean "permanent", as in etcd (they come from zero-valued times). */
const MIN_EXPIRE_TIME = Date.UTC(2000, 0, 1);
/** Go's time.Duration overflows past this many seconds; etcd then makes the key permanent. */
const MAX_TTL_SECONDS = 9_223_372_036;

/**
 * The expire time of a key written at `now` with `ttlSeconds` (undefined: permanent).
 * ttl=0 expires at the next sweep; a ttl too large for Go's Duration is permanent, as in etcd.
 */
export function expireTimeFor(ttlSeconds: number | undefined, now: number): number {
  if (ttlSeconds === undefined || ttlSeconds > MAX_TTL_SECONDS) return PERMANENT;
  return now + ttlSeconds * 1000;
}

const NO_PATHS: readonly string[] = [];

/** How a write treats the TTL: expireTime (PERMANENT for none) and whether it is a refresh. */
export interface TtlOptions {
  readonly expireTime: number;
  /** Refresh: keep the value, change only the TTL, and notify no watcher. */
  readonly refresh?: boolean;
}

/** Each operation's success and failure counters, named once rather than per call. */
const COUNTER_NAMES: Readonly<Record<CountedOperation, readonly [keyof StoreStats, keyof StoreStats]>> = {
  gets: ['getsSuccess', 'getsFail'],
  sets: ['setsSuccess', 'setsFail'],
  delete: ['deleteSuccess', 'deleteFail'],
  update: ['updateSuccess', 'updateFail'],
  create: ['createSuccess', 'createFail'],
  compareAndSwap: ['compareAndSwapSuccess', 'compareAndSwapFail'],
  compareAndDelete: ['compareAndDeleteSuccess', 'compareAndDeleteFail'],
};

/** What `takeChanges` returns. */
export interface StoreChanges {
  readonly written: ReadonlyArray<readonly [string, TreeNode]>;
  readonly removed: readonly string[];
}

/**
 * What an open transaction keeps: how to undo each mutation (newest last), the history records and
 * watcher notifications held back until it commits, and the state it began from.
 */
interface OpenTransaction {
  /** Each undo adds to `reordered` the directories whose children it put back out of order. */
  readonly undo: Array<(reordered: Set<TreeNode>) => void>;
  readonly held: Array<() => void>;
  readonly index: number;
  readonly counters: StoreStats;
}

/** Why a lookup found no node. */
interface Miss {
  readonly code: ErrorCode;
  readonly cause: string;
}

/** The result of `watch`: events already in the history, and the watcher if one was registered. */
export interface WatchStart {
  /** Events from the history to deliver first, oldest first. */
  readonly events: StoreEvent[];
  /** Null when a one-shot watch was answered from the history. */
  readonly watcher: Watcher | null;
  /** The store index when the watch was registered (etcd's X-Etcd-Index of a watch). */
  readonly index: number;
}

/**
 * etcd's v2 key space: a tree of directories and files with TTLs, every mutation a numbered
 * event. Deterministic: time comes in as `now` (ms since the epoch), never read inside.
 * Invariant: `index` is the modifiedIndex of the last event, and the history holds one entry
 * per index.
 */
export class Store {
  readonly root: TreeNode = new TreeNode('', null, true, '', 0, PERMANENT);
  readonly ttlHeap = new TtlHeap();
  readonly history: EventHistory;
  readonly hub = new WatcherHub();
  private readonly counters: StoreStats = emptyStats();
  /** Reads in progress: each keeps, before a write changes a node, what it still needs of it. */
  private readonly reads = new Set<SlicedRead | SnapshotRead>();
  /** Paths written (to the node now there) or removed (null) since `takeChanges`; undefined: not tracking. */
  private changed: Map<string, TreeNode | null> | undefined;
  /** Set between beginTransaction and its commit or rollback. */
  private open: OpenTransaction | undefined;
  index = 0;

  constructor(history: EventHistory = new EventHistory()) {
    this.history = history;
  }

  /** How many keys (files, hidden ones too) the store holds: a walk of the tree, for metrics. */
  countKeys(): number {
    let count = 0;
    const pending: TreeNode[] = [this.root];
    for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
      for (const child of node.children!.values()) {
        if (child.isDir) pending.push(child);
        else count++;
      }
    }
    return count;
  }

  /** From now on, record which nodes writes touch, for incremental snapshots (see takeChanges). */
  trackChanges(): void {
    this.changed = new Map();
  }

  /**
   * What changed since tracking began or the last call: the paths written (created, rewritten,
   * refreshed) with the node now there, and the paths removed (and not written again since).
   */
  takeChanges(): StoreChanges {
    const written: Array<[string, TreeNode]> = [];
    const removed: string[] = [];
    for (const [path, node] of this.changed ?? []) {
      if (node === null) removed.push(path);
      else written.push([path, node]);
    }
    if (this.changed !== undefined) this.changed = new Map();
    return { written, removed };
  }

  /**
   * Starts a transaction: the writes that follow take their indexes as usual and later ones see
   * them, but no history record or watcher notification leaves the store until commitTransaction,
   * and rollbackTransaction undoes them all. Transactions do not nest.
   */
  beginTransaction(): void {
    if (this.open !== undefined) throw new Error('store: a transaction is already open');
    this.open = { undo: [], held: [], index: this.index, counters: { ...this.counters } };
  }

  /** Publishes the transaction's events, in index order, as if each write had just happened. */
  commitTransaction(): void {
    const open = this.endTransaction();
    for (const publish of open.held) publish();
  }

  /**
   * Puts the tree, TTL heap, index, change tracking and success counters back as they were at
   * beginTransaction (failure counters keep the failed operation). Nothing was published.
   */
  rollbackTransaction(): void {
    const open = this.endTransaction();
    const reordered = new Set<TreeNode>();
    for (let i = open.undo.length - 1; i >= 0; i--) open.undo[i]!(reordered);
    for (const dir of reordered) sortByCreation(dir);
    this.index = open.index;
    for (const [success] of Object.values(COUNTER_NAMES)) this.counters[success] = open.counters[success];
  }

  private endTransaction(): OpenTransaction {
    const open = this.open;
    if (open === undefined) throw new Error('store: no transaction is open');
    this.open = undefined;
    return open;
  }

  /** Every node but the root, a directory before its children, with its path. */
  *nodes(): Generator<[string, TreeNode]> {
    const stack: Array<[TreeNode, string]> = [[this.root, '']];
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      const [dir, dirPath] = top;
      for (const child of dir.children!.values()) {
        const path = `${dirPath}/${child.name}`;
        yield [path, child];
        if (child.isDir) stack.push([child, path]);
      }
    }
  }

  get stats(): StoreStats {
    return { ...this.counters, watchers: this.hub.count };
  }

  get(key: string, recursive: boolean, sorted: boolean, now: number): StoreEvent {
    return this.counted('gets', () => {
      const path = cleanPath(key);
      const node = this.internalGet(path);
      return { action: 'get', node: node.view(now, true, recursive, sorted, path) };
    });
  }

  /**
   * A get whose node is produced in slices (SlicedRead.next), showing the tree as it is now
   * however it is written meanwhile; `close()` it when done or abandoned.
   */
  read(key: string, recursive: boolean, sorted: boolean, now: number): SlicedRead {
    return this.counted('gets', () => {
      const path = cleanPath(key);
      const read = new SlicedRead(this.internalGet(path), path, recursive, sorted, now, this.index, (done) => this.reads.delete(done));
      this.reads.add(read);
      return read;
    });
  }

  /**
   * Every node, hidden ones too, as the tree is now, produced in slices (SnapshotRead.next)
   * however it is written meanwhile: a backup of a live store. `close()` it when done or abandoned.
   */
  snapshotRead(): SnapshotRead {
    const read = new SnapshotRead(this.root, this.index, (done) => this.reads.delete(done));
    this.reads.add(read);
    return read;
  }

  /** Sets a file's value or makes a directory, replacing a file that is there. */
  set(key: string, dir: boolean, value: string, ttl: TtlOptions, now: number): StoreEvent {
    return this.counted('sets', () => {
      const path = cleanPath(key);
      const found = this.lookup(path);
      // A refresh needs the key; a plain set creates it.
      if (!(found instanceof TreeNode) && (ttl.refresh || found.code !== ErrorCodes.KeyNotFound)) {
        throw this.error(found.code, found.cause);
      }
      const existing = found instanceof TreeNode ? found : undefined;
      const newValue = ttl.refresh && existing !== undefined ? existing.value : value;
      const event = this.internalCreate(path, dir, newValue, true, ttl.expireTime, 'set', now);
      this.announce(event, ttl.refresh === true);
      return event;
    });
  }

  /** Creates a key that must not exist; `unique` creates an in-order key below `key`. */
  create(key: string, dir: boolean, value: string, unique: boolean, ttl: TtlOptions, now: number): StoreEvent {
    return this.counted('create', () => {
      const path = unique ? `${cleanPath(key)}/${String(this.index + 1).padStart(20, '0')}` : key;
      const event = this.internalCreate(cleanPath(path), dir, value, false, ttl.expireTime, 'create', now);
      this.announce(event, false);
      return event;
    });
  }

  /** Updates an existing key's value and TTL (a directory's TTL only). */
  update(key: string, value: string, ttl: TtlOptions, now: number): StoreEvent {
    return this.counted('update', () => {
      const path = cleanPath(key);
      this.refuseRoot(path);
      const node = this.internalGet(path);
      if (node.isDir && value.length !== 0) throw this.error(ErrorCodes.NotFile, path);
      return this.rewrite('update', path, node, ttl.refresh ? node.value : value, ttl, now);
    });
  }

  compareAndSwap(key: string, prevValue: string, prevIndex: number, value: string, ttl: TtlOptions, now: number): StoreEvent {
    return this.counted('compareAndSwap', () => {
      const path = cleanPath(key);
      this.refuseRoot(path);
      const node = this.internalGet(path);
      if (node.isDir) throw this.error(ErrorCodes.NotFile, path);
      this.compare(node, prevValue, prevIndex);
      return this.rewrite('compareAndSwap', path, node, ttl.refresh ? node.value : value, ttl, now);
    });
  }

  /** Deletes a file; a directory needs `dir` (empty) or `recursive`. */
  delete(key: string, dir: boolean, recursive: boolean, now: number): StoreEvent {
    return this.counted('delete', () => {
      const path = cleanPath(key);
      this.refuseRoot(path);
      const node = this.internalGet(path);
      if (node.isDir && !(dir || recursive)) throw this.error(ErrorCodes.NotFile, path);
      if (node.isDir && node.children!.size > 0 && !recursive) throw this.error(ErrorCodes.DirNotEmpty, path);
      return this.removeWithEvent('delete', node, now);
    });
  }

  compareAndDelete(key: string, prevValue: string, prevIndex: number, now: number): StoreEvent {
    const path = cleanPath(key);
    // etcd counts a compareAndDelete as failed only when the key is missing: its later errors
    // (not a file, compare failed) never reach its counter, so they count as successes.
    const node = this.counted('compareAndDelete', () => this.internalGet(path));
    // etcd names no cause for the root here (its internal root path is trimmed away).
    if (node.isDir) throw this.error(ErrorCodes.NotFile, path === '/' ? undefined : path);
    this.compare(node, prevValue, prevIndex);
    return this.removeWithEvent('compareAndDelete', node, now);
  }

  /** Expires every key whose deadline is at or before `cutoff`; one `expire` event each. */
  deleteExpiredKeys(cutoff: number): StoreEvent[] {
    const events: StoreEvent[] = [];
    for (let node = this.ttlHeap.top(); node !== undefined && node.expireTime <= cutoff; node = this.ttlHeap.top()) {
      events.push(this.removeWithEvent('expire', node, cutoff));
      this.counters.expireCount++;
    }
    return events;
  }

  /** The earliest expire time of any key, if any key has a TTL. */
  nextExpireTime(): number | undefined {
    return this.ttlHeap.top()?.expireTime;
  }

  /**
   * Watches `key` from `sinceIndex` (0: the next event). History events come back in `events`;
   * a one-shot watch answered from the history registers no watcher. A stream gets every
   * matching event from the history and then the live ones, each once.
   */
  watch(key: string, recursive: boolean, stream: boolean, sinceIndex: number, listener: WatchListener): WatchStart {
    const path = cleanPath(key);
    const since = sinceIndex === 0 ? this.index + 1 : sinceIndex;
    let events: StoreEvent[];
    try {
      events = this.history.scan(path, recursive, since, stream ? this.history.capacity : 1);
    } catch (error) {
      if (error instanceof StoreError) throw new StoreError(error.errorCode, error.errorCause, this.index);
      throw error;
    }
    if (!stream && events.length > 0) return { events, watcher: null, index: this.index };
    const liveSince = Math.max(since, this.index + 1);
    return { events, watcher: this.hub.add(path, recursive, stream, liveSince, listener), index: this.index };
  }

  /** The node at `key`, if there is one: a read that counts no get (a transaction's compare). */
  find(key: string): TreeNode | undefined {
    const found = this.lookup(cleanPath(key));
    return found instanceof TreeNode ? found : undefined;
  }

  private internalGet(path: string): TreeNode {
    const found = this.lookup(path);
    if (found instanceof TreeNode) return found;
    throw this.error(found.code, found.cause);
  }

  /**
   * The node at a clean `path`, or what a get would report: 104 naming a file in the way, or 100
   * naming the first missing component. Returns rather than throws (building an Error captures a
   * stack), as a set of a new key is the common case; walks the path without splitting it.
   */
  private lookup(path: string): TreeNode | Miss {
    let node = this.root;
    let start = 1;
    while (start < path.length) {
      if (node.children === null) return { code: ErrorCodes.NotDir, cause: node.path };
      const slash = path.indexOf('/', start);
      const end = slash < 0 ? path.length : slash;
      const child = node.children.get(path.substring(start, end));
      if (child === undefined) return { code: ErrorCodes.KeyNotFound, cause: path.substring(0, end) };
      node = child;
      start = end + 1;
    }
    return node;
  }

  /** Walks to the directory `segments` names, creating the missing ones with the next index. */
  private makeDirs(segments: readonly string[]): TreeNode {
    let node = this.root;
    for (const [i, segment] of segments.entries()) {
      const child = node.children!.get(segment);
      if (child === undefined) {
        const dir = new TreeNode(segment, node, true, '', this.index + 1, PERMANENT);
        this.attach(dir);
        this.markChanged(`/${segments.slice(0, i + 1).join('/')}`, dir);
        node = dir;
      } else if (child.isDir) {
        node = child;
      } else {
        throw this.error(ErrorCodes.NotDir, child.path);
      }
    }
    return node;
  }

  private internalCreate(path: string, dir: boolean, value: string, replace: boolean, expireTime: number, action: Action, now: number): StoreEvent {
    this.refuseRoot(path);
    const effectiveExpire = expireTime !== PERMANENT && expireTime < MIN_EXPIRE_TIME ? PERMANENT : expireTime;
    const segments = segmentsOf(path);
    const name = segments.pop()!;
    const parent = this.makeDirs(segments);
    const next = this.index + 1;
    const existing = parent.children!.get(name);
    let prevNode: NodeView | undefined;
    if (existing !== undefined) {
      if (!replace) throw this.error(ErrorCodes.NodeExist, path);
      if (existing.isDir) throw this.error(ErrorCodes.NotFile, path);
      prevNode = existing.view(now, false, false, false, path);
      this.detach(existing);
    }
    const node = new TreeNode(name, parent, dir, value, next, effectiveExpire);
    this.attach(node);
    this.markChanged(path, node);
    this.index = next;
    return this.event(action, path, next, node, dir ? undefined : value, prevNode, now);
  }

  /** Writes a new value and TTL into an existing node: the common part of update and CAS. */
  private rewrite(action: 'update' | 'compareAndSwap', path: string, node: TreeNode, value: string, ttl: TtlOptions, now: number): StoreEvent {
    const next = this.index + 1;
    const prevNode = node.view(now, false, false, false, path);
    this.preserveForReads(node);
    this.journalRewrite(node);
    // A directory's value and modifiedIndex never change (etcd's Write refuses directories).
    if (!node.isDir) {
      node.value = value;
      node.modifiedIndex = next;
    }
    this.updateTtl(node, ttl.expireTime);
    this.markChanged(path, node);
    const event = this.event(action, path, next, node, node.isDir ? undefined : value, prevNode, now);
    this.index = next;
    this.announce(event, ttl.refresh === true);
    return event;
  }

  /**
   * A write that clients never see: etcd keeps its membership and cluster version in its v2
   * store, outside the keys API's prefix, so each change of them takes an index there. The
   * history holds one entry per index: this one is recorded as a refresh is, never given to a
   * watcher. `key` names what etcd wrote (`/0/members/...`), for whoever reads a snapshot.
   */
  recordHiddenWrite(key: string): void {
    const next = this.index + 1;
    this.index = next;
    this.history.add({ action: 'set', node: { key, modifiedIndex: next, createdIndex: next } }, true);
  }

  /** Removes a node and everything below it, notifying the watchers of every removed path. */
  private removeWithEvent(action: 'delete' | 'compareAndDelete' | 'expire', node: TreeNode, now: number): StoreEvent {
    const next = this.index + 1;
    const path = node.path;
    const view: NodeView = { key: path };
    if (node.isDir) view.dir = true;
    view.modifiedIndex = next;
    view.createdIndex = node.createdIndex;
    const event: StoreEvent = { action, node: view, prevNode: node.view(now, false, false, false, path) };
    const removedPaths: string[] = [];
    this.removeTree(node, path, removedPaths);
    this.index = next;
    this.announce(event, false, removedPaths);
    return event;
  }

  /** Detaches a subtree, children first, collecting the removed paths in that order. */
  private removeTree(node: TreeNode, path: string, removed: string[]): void {
    if (node.children !== null) {
      for (const [name, child] of node.children) this.removeTree(child, `${path === '/' ? '' : path}/${name}`, removed);
    }
    this.detach(node);
    this.markChanged(path, null);
    removed.push(path);
  }

  /** Puts a new node into its parent (and the TTL heap if it has a TTL). */
  private attach(node: TreeNode): void {
    this.preserveForReads(node.parent!);
    node.parent!.children!.set(node.name, node);
    if (!node.isPermanent) this.ttlHeap.push(node);
    this.open?.undo.push(() => this.detach(node));
  }

  private detach(node: TreeNode): void {
    if (node.parent !== null && node.parent.children!.get(node.name) === node) {
      this.preserveForReads(node.parent);
      node.parent.children!.delete(node.name);
    }
    if (!node.isPermanent) this.ttlHeap.remove(node);
    this.open?.undo.push((reordered) => {
      // Back at the end of its directory: the rollback restores the creation order.
      node.parent!.children!.set(node.name, node);
      if (!node.isPermanent) this.ttlHeap.push(node);
      reordered.add(node.parent!);
    });
  }

  /** In a transaction, remembers a node's value, modifiedIndex and TTL before a rewrite changes them. */
  private journalRewrite(node: TreeNode): void {
    if (this.open === undefined) return;
    const { value, modifiedIndex, expireTime } = node;
    this.open.undo.push(() => {
      node.value = value;
      node.modifiedIndex = modifiedIndex;
      this.updateTtl(node, expireTime);
    });
  }

  /** Records a written (node) or removed (null) path for takeChanges, undoably in a transaction. */
  private markChanged(path: string, node: TreeNode | null): void {
    const changed = this.changed;
    if (changed === undefined) return;
    if (this.open !== undefined) {
      const before = changed.get(path);
      const had = changed.has(path);
      this.open.undo.push(() => {
        if (had) changed.set(path, before!);
        else changed.delete(path);
      });
    }
    changed.set(path, node);
  }

  /**
   * Records an event in the history and notifies its watchers (also those of `removedPaths`, the
   * paths a deletion took with it); a refresh is recorded but notifies no one. Held back until
   * the commit while a transaction is open.
   */
  private announce(event: StoreEvent, refresh: boolean, removedPaths: readonly string[] = NO_PATHS): void {
    if (this.open !== undefined) {
      this.open.held.push(() => this.announce(event, refresh, removedPaths));
      return;
    }
    this.history.add(event, refresh);
    if (refresh) return;
    for (const removed of removedPaths) this.hub.notifyAt(event, removed, true);
    this.hub.notify(event);
  }

  private updateTtl(node: TreeNode, expireTime: number): void {
    const wasPermanent = node.isPermanent;
    node.expireTime = expireTime;
    if (wasPermanent && expireTime !== PERMANENT) this.ttlHeap.push(node);
    else if (!wasPermanent && expireTime === PERMANENT) this.ttlHeap.remove(node);
    else if (!wasPermanent) this.ttlHeap.update(node);
  }

  private compare(node: TreeNode, prevValue: string, prevIndex: number): void {
    const valueOk = prevValue === '' || node.value === prevValue;
    const indexOk = prevIndex === 0 || node.modifiedIndex === prevIndex;
    if (valueOk && indexOk) return;
    const valuePart = `[${prevValue} != ${node.value}]`;
    const indexPart = `[${prevIndex} != ${node.modifiedIndex}]`;
    const cause = !valueOk && !indexOk ? `${valuePart} ${indexPart}` : valueOk ? indexPart : valuePart;
    throw this.error(ErrorCodes.TestFailed, cause);
  }

  /** The event of a write: the node as it is now, with the given modifiedIndex. */
  private event(action: Action, path: string, modifiedIndex: number, node: TreeNode, value: string | undefined, prevNode: NodeView | undefined, now: number): StoreEvent {
    const view = node.view(now, false, false, false, path);
    const out: NodeView = { key: path };
    if (value !== undefined) out.value = value;
    if (node.isDir) out.dir = true;
    if (view.expiration !== undefined) out.expiration = view.expiration;
    if (view.ttl !== undefined) out.ttl = view.ttl;
    out.modifiedIndex = modifiedIndex;
    out.createdIndex = node.createdIndex;
    return prevNode === undefined ? { action, node: out } : { action, node: out, prevNode };
  }

  /** Every change to a node's fields or children comes here first (see SlicedRead). */
  private preserveForReads(node: TreeNode): void {
    for (const read of this.reads) read.preserve(node);
  }

  private refuseRoot(path: string): void {
    if (path === '/') throw new StoreError(ErrorCodes.RootReadOnly, '/', this.index);
  }

  private error(code: ErrorCode, cause: string | undefined): StoreError {
    return new StoreError(code, cause, this.index);
  }

  private counted<T>(operation: CountedOperation, run: () => T): T {
    const [success, fail] = COUNTER_NAMES[operation];
    try {
      const result = run();
      this.counters[success]++;
      return result;
    } catch (error) {
      this.counters[fail]++;
      throw error;
    }
  }
}

/** Restores a directory's children to creation order, the order every write keeps them in. */
function sortByCreation(dir: TreeNode): void {
  const children = [...dir.children!.values()].sort((a, b) => a.createdIndex - b.createdIndex);
  dir.children!.clear();
  for (const child of children) dir.children!.set(child.name, child);
}
