import type { StoreEvent } from './event.ts';
import { EventHistory } from './event-history.ts';
import { PERMANENT, TreeNode } from './node.ts';
import type { NodeRecord } from './node-record.ts';
import { Store } from './store.ts';

/**
 * A store is saved as a header (index, history) and one record per node: see restoreStore.
 * The chunked JSON format below is the one of kvd 0.1 (data dirs and `make bench-store` read it):
 * a sequence of chunks, each one JSON document, so that a large
 * store is written, sent and read a chunk at a time.
 *   header:  {"format":"kvd-store","version":1,"index":N,"historyCapacity":C}
 *   nodes:   {"nodes":[[path, createdIndex, modifiedIndex, expireTime, value | null], ...]}
 *            (pre-order: a directory before its children; null marks a directory)
 *   history: {"history":[[refresh 0|1, event], ...]} (oldest first)
 * Watchers are not part of a snapshot: they belong to live connections.
 */
export const SNAPSHOT_FORMAT = 'kvd-store';
export const SNAPSHOT_VERSION = 1;

type NodeRecordTuple = [string, number, number, number, string | null];
type HistoryRecord = [0 | 1, StoreEvent];

interface Header {
  format: string;
  version: number;
  index: number;
  historyCapacity: number;
}

/** What a snapshot holds besides the nodes. */
export interface StoreHeader {
  readonly index: number;
  readonly historyCapacity: number;
  /** Oldest first. */
  readonly history: ReadonlyArray<{ readonly event: StoreEvent; readonly refresh: boolean }>;
}

export function storeHeader(store: Store): StoreHeader {
  return { index: store.index, historyCapacity: store.history.capacity, history: [...store.history.entries()] };
}

/** Rebuilds a store from its header and its nodes (see StoreBuilder). */
export function restoreStore(header: StoreHeader, nodes: Iterable<NodeRecord>): Store {
  const builder = new StoreBuilder(header);
  for (const record of nodes) builder.add(record);
  return builder.build();
}

/**
 * Rebuilds a store a node at a time, each directory before its children (pre-order or path
 * order). Children end up in creation order, as in the store that was saved.
 */
export class StoreBuilder {
  private readonly store: Store;
  private readonly header: StoreHeader;
  private readonly dirs = new Map<string, TreeNode>();
  private readonly newestChild = new Map<TreeNode, number>();
  private readonly unordered = new Set<TreeNode>();
  private lastDirPath = '';
  private lastDir: TreeNode;
  private lastNewest = -1;

  constructor(header: StoreHeader) {
    if (!isIndex(header.index) || !isIndex(header.historyCapacity) || header.historyCapacity === 0 || !Array.isArray(header.history)) throw new Error('store snapshot: the header is malformed');
    this.header = header;
    this.store = new Store(new EventHistory(header.historyCapacity));
    this.store.index = header.index;
    this.dirs.set('', this.store.root);
    this.lastDir = this.store.root;
  }

  /** Throws a clear Error for a node whose directory has not been added. */
  add(record: NodeRecord): void {
    checkRecord(record);
    const { path, value } = record;
    const slash = path.lastIndexOf('/');
    // Siblings mostly come one after another: reuse the last one's directory and newest child.
    let parent: TreeNode | undefined;
    if (slash === this.lastDirPath.length && path.startsWith(this.lastDirPath)) {
      parent = this.lastDir;
    } else {
      this.flushNewest();
      parent = this.dirs.get(path.slice(0, slash));
      if (parent === undefined) throw new Error(`store snapshot: ${path} comes before its directory`);
      this.lastDirPath = path.slice(0, slash);
      this.lastDir = parent;
      this.lastNewest = this.newestChild.get(parent) ?? -1;
    }
    const node = new TreeNode(path.slice(slash + 1), parent, value === null, value ?? '', record.createdIndex, record.expireTime);
    node.modifiedIndex = record.modifiedIndex;
    if (this.lastNewest > node.createdIndex) this.unordered.add(parent);
    else this.lastNewest = node.createdIndex;
    parent.children!.set(node.name, node);
    if (value === null) this.dirs.set(path, node);
    if (record.expireTime !== PERMANENT) this.store.ttlHeap.push(node);
  }

  /** Remembers the newest child of the directory the last nodes went into. */
  private flushNewest(): void {
    if (this.lastNewest >= 0) this.newestChild.set(this.lastDir, this.lastNewest);
  }

  build(): Store {
    for (const dir of this.unordered) {
      const sorted = [...dir.children!.values()].sort((a, b) => a.createdIndex - b.createdIndex);
      dir.children!.clear();
      for (const child of sorted) dir.children!.set(child.name, child);
    }
    this.store.history.load(this.header.history);
    return this.store;
  }
}

/** The latest instant a Date holds: a node's expiration is shown as a date. */
const MAX_DATE_MS = 8.64e15;

function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * Throws unless the record has what the store writes: a snapshot may come from a peer, and a
 * field out of range (an expiry no date can show) would throw later, on every apply that shows it.
 */
function checkRecord(record: NodeRecord): void {
  const { path, createdIndex, modifiedIndex, expireTime, value } = record;
  const pathOk = typeof path === 'string' && path.startsWith('/') && path.length > 1;
  const timeOk = typeof expireTime === 'number' && expireTime >= 0 && expireTime <= MAX_DATE_MS;
  if (!pathOk || !isIndex(createdIndex) || !isIndex(modifiedIndex) || !timeOk || (value !== null && typeof value !== 'string')) {
    throw new Error(`store snapshot: the record of ${typeof path === 'string' ? path : 'a node'} is malformed`);
  }
}

/** Yields the store's snapshot as JSON chunks of at most `recordsPerChunk` records. */
export function* snapshotChunks(store: Store, recordsPerChunk = 10_000): Generator<string> {
  const header: Header = { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, index: store.index, historyCapacity: store.history.capacity };
  yield JSON.stringify(header);
  let batch: NodeRecordTuple[] = [];
  for (const [path, node] of store.nodes()) {
    batch.push([path, node.createdIndex, node.modifiedIndex, node.expireTime, node.isDir ? null : node.value]);
    if (batch.length >= recordsPerChunk) {
      yield JSON.stringify({ nodes: batch });
      batch = [];
    }
  }
  if (batch.length > 0) yield JSON.stringify({ nodes: batch });
  let history: HistoryRecord[] = [];
  for (const entry of store.history.entries()) {
    history.push([entry.refresh ? 1 : 0, entry.event]);
    if (history.length >= recordsPerChunk) {
      yield JSON.stringify({ history });
      history = [];
    }
  }
  if (history.length > 0) yield JSON.stringify({ history });
}

/** Rebuilds a store from `snapshotChunks` output; throws a clear Error on anything malformed. */
export function restoreSnapshot(chunks: Iterable<string>): Store {
  let header: Header | undefined;
  const nodes: NodeRecord[] = [];
  const history: Array<{ event: StoreEvent; refresh: boolean }> = [];
  for (const chunk of chunks) {
    const parsed = parseChunk(chunk);
    if (header === undefined) {
      header = checkHeader(parsed);
      continue;
    }
    if (Array.isArray(parsed.nodes)) {
      for (const [path, createdIndex, modifiedIndex, expireTime, value] of parsed.nodes as NodeRecordTuple[]) nodes.push({ path, createdIndex, modifiedIndex, expireTime, value });
    } else if (Array.isArray(parsed.history)) {
      for (const [refresh, event] of parsed.history as HistoryRecord[]) history.push({ event, refresh: refresh === 1 });
    } else {
      throw new Error('store snapshot: a chunk holds neither nodes nor history');
    }
  }
  if (header === undefined) throw new Error('store snapshot: empty (no header)');
  return restoreStore({ index: Number(header.index), historyCapacity: Number(header.historyCapacity), history }, nodes);
}

function parseChunk(chunk: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(chunk);
    if (typeof parsed === 'object' && parsed !== null) return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Error('store snapshot: a chunk is not valid JSON');
}

function checkHeader(header: Record<string, unknown>): Header {
  if (header.format !== SNAPSHOT_FORMAT) throw new Error('store snapshot: not a kvd store snapshot');
  if (header.version !== SNAPSHOT_VERSION) {
    throw new Error(`store snapshot: format version ${String(header.version)} is not supported (this kvd reads version ${SNAPSHOT_VERSION})`);
  }
  return header as unknown as Header;
}
