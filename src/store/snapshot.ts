import type { StoreEvent } from './event.ts';
import { EventHistory } from './event-history.ts';
import { PERMANENT, TreeNode } from './node.ts';
import { Store } from './store.ts';

/**
 * The store's snapshot format: a sequence of chunks, each one JSON document, so that a large
 * store is written, sent and read a chunk at a time.
 *   header:  {"format":"kvd-store","version":1,"index":N,"historyCapacity":C}
 *   nodes:   {"nodes":[[path, createdIndex, modifiedIndex, expireTime, value | null], ...]}
 *            (pre-order: a directory before its children; null marks a directory)
 *   history: {"history":[[refresh 0|1, event], ...]} (oldest first)
 * Watchers are not part of a snapshot: they belong to live connections.
 */
export const SNAPSHOT_FORMAT = 'kvd-store';
export const SNAPSHOT_VERSION = 1;

type NodeRecord = [string, number, number, number, string | null];
type HistoryRecord = [0 | 1, StoreEvent];

interface Header {
  format: string;
  version: number;
  index: number;
  historyCapacity: number;
}

/** Yields the store's snapshot as JSON chunks of at most `recordsPerChunk` records. */
export function* snapshotChunks(store: Store, recordsPerChunk = 10_000): Generator<string> {
  const header: Header = { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, index: store.index, historyCapacity: store.history.capacity };
  yield JSON.stringify(header);
  let batch: NodeRecord[] = [];
  const stack: Array<[TreeNode, string]> = [[store.root, '']];
  while (stack.length > 0) {
    const [dir, dirPath] = stack.pop()!;
    const subdirs: Array<[TreeNode, string]> = [];
    for (const child of dir.children!.values()) {
      const path = `${dirPath}/${child.name}`;
      batch.push([path, child.createdIndex, child.modifiedIndex, child.expireTime, child.isDir ? null : child.value]);
      if (child.isDir) subdirs.push([child, path]);
      if (batch.length >= recordsPerChunk) {
        yield JSON.stringify({ nodes: batch });
        batch = [];
      }
    }
    // Children of a directory come after it; any order among siblings' subtrees is pre-order enough.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
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
  let store: Store | undefined;
  const dirs = new Map<string, TreeNode>();
  const history: Array<{ event: StoreEvent; refresh: boolean }> = [];
  for (const chunk of chunks) {
    const parsed = parseChunk(chunk);
    if (store === undefined) {
      store = storeFromHeader(parsed);
      dirs.set('', store.root);
      continue;
    }
    if (Array.isArray(parsed.nodes)) {
      for (const record of parsed.nodes as NodeRecord[]) addNode(store, dirs, record);
    } else if (Array.isArray(parsed.history)) {
      for (const [refresh, event] of parsed.history as HistoryRecord[]) history.push({ event, refresh: refresh === 1 });
    } else {
      throw new Error('store snapshot: a chunk holds neither nodes nor history');
    }
  }
  if (store === undefined) throw new Error('store snapshot: empty (no header)');
  store.history.load(history);
  return store;
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

function storeFromHeader(header: Record<string, unknown>): Store {
  if (header.format !== SNAPSHOT_FORMAT) throw new Error('store snapshot: not a kvd store snapshot');
  if (header.version !== SNAPSHOT_VERSION) {
    throw new Error(`store snapshot: format version ${String(header.version)} is not supported (this kvd reads version ${SNAPSHOT_VERSION})`);
  }
  const store = new Store(new EventHistory(Number(header.historyCapacity)));
  store.index = Number(header.index);
  return store;
}

function addNode(store: Store, dirs: Map<string, TreeNode>, [path, createdIndex, modifiedIndex, expireTime, value]: NodeRecord): void {
  const slash = path.lastIndexOf('/');
  const parent = dirs.get(path.slice(0, slash));
  if (parent === undefined) throw new Error(`store snapshot: ${path} comes before its directory`);
  const node = new TreeNode(path.slice(slash + 1), parent, value === null, value ?? '', createdIndex, expireTime);
  node.modifiedIndex = modifiedIndex;
  parent.children!.set(node.name, node);
  if (value === null) dirs.set(path, node);
  if (expireTime !== PERMANENT) store.ttlHeap.push(node);
}
