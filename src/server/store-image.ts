import type { ConfState } from '../raft/types.ts';
import type { BaseWriter } from '../storage/disk-storage.ts';
import type { Image, ImageChanges, ImageRecord } from '../storage/image.ts';
import type { NodeRecord } from '../store/node-record.ts';
import { nodeRecord } from '../store/node-record.ts';
import type { StoreHeader } from '../store/snapshot.ts';
import { StoreBuilder, restoreSnapshot, storeHeader } from '../store/snapshot.ts';
import type { Store } from '../store/store.ts';
import type { AuthImage } from './auth-state.ts';
import { AuthState } from './auth-state.ts';

/**
 * A member's snapshot as a storage image (src/storage/image.ts):
 *   head:    JSON {"membership": …, "appliedIds": [[request id, index], …], "store": StoreHeader,
 *            "auth": users, roles and the auth switch (absent in images made before auth)}
 *   records: one per node, key = its path (UTF-8), value = f64be createdIndex, f64be modifiedIndex,
 *            f64be expireTime, u8 1 for a directory (0 for a file), then a file's value (UTF-8).
 * Path order puts every directory before its children, which is all a restore needs.
 */
export interface MemberState<M> {
  readonly membership: M;
  readonly appliedIds: Map<string, number>;
  readonly store: Store;
  readonly auth: AuthState;
}

const NODE_HEADER = 25;
/** Records encoded, or nodes walked, between yields to the event loop. */
const ENCODE_SLICE = 1000;
const WALK_SLICE = 2000;

/**
 * What changed since the last snapshot, taken at one index as plain values (strings and numbers
 * the store never changes in place): cheap to take on the event loop, encoded afterwards while the
 * store goes on.
 */
export interface CapturedChanges<M> {
  readonly head: Head<M>;
  readonly nodes: readonly NodeRecord[];
  readonly removed: readonly string[];
}

/** What the store's writes changed since the last snapshot (or since a base was begun). */
export function captureChanges<M>(state: MemberState<M>): CapturedChanges<M> {
  const { written, removed } = state.store.takeChanges();
  return { head: headOf(state), nodes: written.map(([path, node]) => nodeRecord(path, node)), removed };
}

/** Encodes captured changes for the storage, yielding to the event loop between slices. */
export async function encodeChanges<M>(captured: CapturedChanges<M>): Promise<ImageChanges> {
  const head = Buffer.from(JSON.stringify(captured.head), 'utf8');
  const puts: ImageRecord[] = [];
  for (let i = 0; i < captured.nodes.length; i++) {
    puts.push(encodeNode(captured.nodes[i]!));
    if (i % ENCODE_SLICE === ENCODE_SLICE - 1) await turn();
  }
  return { head, puts, removed: captured.removed.map((path) => Buffer.from(path, 'utf8')) };
}

/** What `writeBase` needs at its end, all taken at one moment. */
export interface Taken<M> {
  readonly state: MemberState<M>;
  readonly index: number;
  readonly confState: ConfState;
}

/**
 * Writes a new base of the whole store (the first snapshot, or when the deltas since the last
 * base outgrow it). The tree is walked and written a slice at a time while the member goes on
 * applying; the writes made meanwhile (the store records them) go into a delta over the new
 * base, so that base and delta are the state at the end, when `take` is called for the head, the
 * index and the configuration. Returns that index.
 */
export async function writeBase<M>(store: Store, base: BaseWriter, take: () => Taken<M>): Promise<{ index: number; nodes: number }> {
  store.takeChanges();
  let nodes = 0;
  let slice: ImageRecord[] = [];
  for (const [path, node] of store.nodes()) {
    slice.push(encodeNode(nodeRecord(path, node)));
    if (slice.length === WALK_SLICE) {
      nodes += slice.length;
      await base.add(slice);
      slice = [];
      await turn();
    }
  }
  nodes += slice.length;
  await base.add(slice);
  const taken = take();
  if (taken.state.store !== store) throw new Error('writeBase: the store was replaced during the walk');
  await base.save(taken.index, taken.confState, await encodeChanges(captureChanges(taken.state)));
  return { index: taken.index, nodes };
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Rebuilds a member's state from an image's head and records (in batches, as the storage reads
 * them; one batch for an image from the wire); throws a clear Error if malformed.
 */
export async function restoreImage<M>(head: Uint8Array, batches: AsyncIterable<Iterable<ImageRecord>> | Iterable<Iterable<ImageRecord>>): Promise<MemberState<M>> {
  const parsed = decodeHead<M>(head);
  const builder = new StoreBuilder(parsed.store);
  for await (const batch of batches) for (const [key, value] of batch) builder.add(decodeNode(key, value));
  return { membership: parsed.membership, appliedIds: new Map(parsed.appliedIds), store: builder.build(), auth: AuthState.fromImage(parsed.auth) };
}

/**
 * The image of kvd 0.1's snapshot blob (membership, request ids and store chunks, a line each), for
 * the data dir's upgrade (DiskStorage.open's upgradeBlob); throws a clear Error if it does not
 * decode or its membership fails `checkMembership`.
 */
export function upgradeBlob(blob: Uint8Array, checkMembership: (membership: unknown) => void): Image {
  const [first, ids, ...chunks] = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).toString('utf8').split('\n');
  const state: MemberState<unknown> = { membership: JSON.parse(first!), appliedIds: new Map(JSON.parse(ids!) as Array<[string, number]>), store: restoreSnapshot(chunks), auth: new AuthState() };
  checkMembership(state.membership);
  return { head: Buffer.from(JSON.stringify(headOf(state)), 'utf8'), records: nodeRecords(state.store) };
}

function* nodeRecords(store: Store): Generator<ImageRecord> {
  for (const [path, node] of store.nodes()) yield encodeNode(nodeRecord(path, node));
}

interface Head<M> {
  readonly membership: M;
  readonly appliedIds: Array<[string, number]>;
  readonly store: StoreHeader;
  readonly auth?: AuthImage;
}

function headOf<M>(state: MemberState<M>): Head<M> {
  return { membership: state.membership, appliedIds: [...state.appliedIds], store: storeHeader(state.store), auth: state.auth.toImage() };
}

function decodeHead<M>(bytes: Uint8Array): Head<M> {
  let head: Head<M> | undefined;
  try {
    head = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Head<M>;
  } catch {
    // reported below
  }
  if (head?.store === undefined || !Array.isArray(head.appliedIds)) throw new Error('snapshot image: the head is malformed');
  return head;
}

export function encodeNode(node: NodeRecord): ImageRecord {
  const key = Buffer.from(node.path, 'utf8');
  const valueBytes = node.value === null ? 0 : Buffer.byteLength(node.value, 'utf8');
  const value = Buffer.allocUnsafe(NODE_HEADER + valueBytes);
  value.writeDoubleBE(node.createdIndex, 0);
  value.writeDoubleBE(node.modifiedIndex, 8);
  value.writeDoubleBE(node.expireTime, 16);
  value[24] = node.value === null ? 1 : 0;
  if (node.value !== null && valueBytes > 0) value.write(node.value, NODE_HEADER, 'utf8');
  return [key, value];
}

export function decodeNode(key: Uint8Array, value: Uint8Array): NodeRecord {
  const k = Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const v = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (v.length < NODE_HEADER || v[24]! > 1) throw new Error(`snapshot image: the record of ${k.toString('utf8')} is malformed`);
  return {
    path: k.toString('utf8'),
    createdIndex: v.readDoubleBE(0),
    modifiedIndex: v.readDoubleBE(8),
    expireTime: v.readDoubleBE(16),
    value: v[24] === 1 ? null : v.toString('utf8', NODE_HEADER),
  };
}
