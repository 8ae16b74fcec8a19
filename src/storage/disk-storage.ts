import { ClassicLevel } from 'classic-level';
import type { Storage } from '../raft/storage.ts';
import { EMPTY_SNAPSHOT, MemoryStorage } from '../raft/storage.ts';
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.ts';
import { EMPTY_HARD_STATE } from '../raft/types.ts';
import type { StoredSnapshotMeta } from './codec.ts';
import {

  FORMAT_VERSION,
  KEY_MEMBERSHIP,
  KEY_HARD_STATE,
  KEY_SNAPSHOT_META,
  KEY_VERSION,
  chunkKey,
  decodeEntry,
  decodeHardState,
  decodeJson,
  encodeEntry,
  encodeHardState,
  encodeJson,
  entryIndexOf,
  entryKey,
  entryRange,
  openRecord,
  record,
} from './codec.ts';
import { DataDirError, StorageFailedError } from './errors.ts';
import type { WriteOp } from './write-queue.ts';
import { WriteQueue } from './write-queue.ts';

/** What one Ready asks to make durable. */
export interface PersistRequest {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: it replaces the log. */
  readonly snapshot?: Snapshot;
  /** The server's membership record (names, URLs, cluster id), when it changed. */
  readonly membership?: unknown;
  /** Whether this must be on disk before the caller acknowledges anything (Ready.mustSync). */
  readonly sync: boolean;
}

export interface DiskStorageOptions {
  /** Bytes per snapshot chunk value. */
  readonly chunkSize?: number;
}

const DEFAULT_CHUNK_SIZE = 1024 * 1024;
type Db = ClassicLevel<Buffer, Buffer>;

/**
 * The member's durable Raft state in one classic-level database under --data-dir. Raft reads it
 * synchronously from an in-memory copy (the log since the last compaction); `persist` writes one
 * atomic batch per Ready through a group-commit queue and updates the copy once durable.
 */
export class DiskStorage implements Storage {
  readonly dir: string;
  private readonly db: Db;
  private readonly memory: MemoryStorage;
  private readonly queue: WriteQueue;
  private readonly chunkSize: number;
  private snapshotChunks: number;
  /** The chunk slot of the current snapshot (undefined: none yet, or a data dir from before slots). */
  private snapshotSlot: number | undefined;
  private failure: StorageFailedError | undefined;
  /** The server's membership record as last saved (Raft itself reads the snapshot's ConfState). */
  membership: unknown;

  private constructor(dir: string, db: Db, memory: MemoryStorage, snapshotChunks: number, snapshotSlot: number | undefined, membership: unknown, options: DiskStorageOptions) {
    this.dir = dir;
    this.db = db;
    this.memory = memory;
    this.snapshotChunks = snapshotChunks;
    this.snapshotSlot = snapshotSlot;
    this.membership = membership;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.queue = new WriteQueue({ batch: (ops, opts) => this.db.batch(ops, opts) });
  }

  /**
   * Opens (or creates) the data dir and loads it. Throws DataDirError, naming the dir and the
   * problem, for anything it cannot trust: a failed checksum, a gap in the log, an unknown format
   * version, a lock held by another member.
   */
  static async open(dir: string, options: DiskStorageOptions = {}): Promise<DiskStorage> {
    const db: Db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      await db.open();
    } catch (error) {
      throw new DataDirError(dir, describeOpenError(error));
    }
    try {
      const loaded = await load(db, dir);
      return new DiskStorage(dir, db, loaded.memory, loaded.snapshotChunks, loaded.snapshotSlot, loaded.membership, options);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  // --- Storage (synchronous reads for the Raft core) -----------------------------------------

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.memory.initialState();
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    return this.memory.entries(lo, hi, maxSize);
  }

  term(index: number): number {
    return this.memory.term(index);
  }

  lastIndex(): number {
    return this.memory.lastIndex();
  }

  firstIndex(): number {
    return this.memory.firstIndex();
  }

  snapshot(): Snapshot {
    return this.memory.snapshot();
  }

  get writeStats(): { batches: number; syncs: number } {
    return { batches: this.queue.batches, syncs: this.queue.syncs };
  }

  // --- writes ----------------------------------------------------------------------------------

  /** Makes one Ready's state durable as one atomic batch; resolves once it is (synced if asked). */
  async persist(request: PersistRequest): Promise<void> {
    const ops: WriteOp[] = [];
    if (request.snapshot !== undefined) {
      // A leader's snapshot replaces our whole log.
      for (let i = this.memory.firstIndex() - 1; i <= this.memory.lastIndex(); i++) ops.push({ type: 'del', key: entryKey(i) });
      ops.push(...this.snapshotOps(request.snapshot));
    }
    const entries = request.entries;
    if (entries.length > 0) {
      for (const entry of entries) ops.push({ type: 'put', key: entryKey(entry.index), value: encodeEntry(entry) });
      // Entries after the new last one were replaced by a new leader: drop them.
      const lastOld = request.snapshot !== undefined ? request.snapshot.meta.index : this.memory.lastIndex();
      for (let i = entries[entries.length - 1]!.index + 1; i <= lastOld; i++) ops.push({ type: 'del', key: entryKey(i) });
    }
    if (request.hardState !== undefined) ops.push({ type: 'put', key: KEY_HARD_STATE, value: encodeHardState(request.hardState) });
    if (request.membership !== undefined) ops.push({ type: 'put', key: KEY_MEMBERSHIP, value: encodeJson(request.membership) });
    await this.write(ops, request.sync);
    if (request.snapshot !== undefined) {
      this.memory.applySnapshot(request.snapshot);
      this.snapshotSlot = this.snapshotSlot === 0 ? 1 : 0;
      this.snapshotChunks = chunkCount(request.snapshot.data.length, this.chunkSize);
    }
    this.memory.append(entries);
    if (request.hardState !== undefined) this.memory.setHardState(request.hardState);
    if (request.membership !== undefined) this.membership = request.membership;
  }

  /** Records the state machine's snapshot at `index` (which must be in the log), synced. */
  /**
   * Saves a snapshot of our own state. Its chunks are written into the free slot outside the
   * log's write queue, unsynced and a few at a time, so that the log's writes (and fsyncs) go on
   * meanwhile; one small synced write of the metadata then makes it the snapshot (LevelDB's log is
   * sequential: that sync makes the chunks durable too), and the old slot is cleared.
   */
  async saveSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    const snapshot: Snapshot = { meta: { index, term: this.memory.term(index), confState }, data };
    const slot = this.snapshotSlot === 0 ? 1 : 0;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const chunks = chunkCount(bytes.length, this.chunkSize);
    const perBatch = Math.max(1, Math.floor((4 * 1024 * 1024) / this.chunkSize));
    try {
      for (let from = 0; from < chunks; from += perBatch) await this.db.batch(this.chunkPuts(bytes, slot, from, Math.min(chunks, from + perBatch)), { sync: false });
    } catch (error) {
      throw this.fail(error);
    }
    const meta: StoredSnapshotMeta = { ...snapshot.meta, chunks, size: bytes.length, slot };
    await this.write([{ type: 'put', key: KEY_SNAPSHOT_META, value: encodeJson(meta) }], true);
    const stale = this.staleChunkOps();
    this.snapshotSlot = slot;
    this.snapshotChunks = chunks;
    this.memory.createSnapshot(index, confState, data);
    await this.write(stale, false);
    return snapshot;
  }

  /** Puts of chunks [from, to) of `data` into `slot`. */
  private chunkPuts(data: Buffer, slot: number, from: number, to: number): WriteOp[] {
    const ops: WriteOp[] = [];
    for (let i = from; i < to; i++) ops.push({ type: 'put', key: chunkKey(i, slot), value: record(data.subarray(i * this.chunkSize, (i + 1) * this.chunkSize)) });
    return ops;
  }

  /** Deletes of the current slot's chunks (to be run once another slot holds the snapshot). */
  private staleChunkOps(): WriteOp[] {
    const ops: WriteOp[] = [];
    for (let i = 0; i < this.snapshotChunks; i++) ops.push({ type: 'del', key: chunkKey(i, this.snapshotSlot) });
    return ops;
  }

  /**
   * Drops the log before `index` (which stays as the boundary entry): after a snapshot, callers
   * pass the snapshot index minus the tail they keep for slow followers.
   */
  async compact(index: number): Promise<void> {
    const first = this.memory.firstIndex() - 1;
    if (index <= first) return;
    if (index > this.memory.snapshot().meta.index) throw new RangeError(`compact(${index}) is past the snapshot at ${this.memory.snapshot().meta.index}`);
    this.memory.compact(index);
    try {
      await this.db.clear(entryRange(first, index));
      // Let LevelDB reclaim the space now rather than whenever it next compacts this range.
      await this.db.compactRange(entryKey(first), entryKey(index));
    } catch (error) {
      throw this.fail(error);
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** One atomic batch that installs a snapshot from the leader into the free slot (used by persist). */
  private snapshotOps(snapshot: Snapshot): WriteOp[] {
    const slot = this.snapshotSlot === 0 ? 1 : 0;
    const ops = this.staleChunkOps();
    const data = Buffer.from(snapshot.data.buffer, snapshot.data.byteOffset, snapshot.data.byteLength);
    const chunks = chunkCount(data.length, this.chunkSize);
    ops.push(...this.chunkPuts(data, slot, 0, chunks));
    const meta: StoredSnapshotMeta = { ...snapshot.meta, chunks, size: data.length, slot };
    ops.push({ type: 'put', key: KEY_SNAPSHOT_META, value: encodeJson(meta) });
    return ops;
  }

  private async write(ops: WriteOp[], sync: boolean): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    try {
      await this.queue.write(ops, sync);
    } catch (error) {
      throw this.fail(error);
    }
  }

  private fail(error: unknown): StorageFailedError {
    this.failure ??= new StorageFailedError(this.dir, error);
    return this.failure;
  }
}

function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

function describeOpenError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === 'LEVEL_LOCKED') return 'in use by another running member (its lock is held); stop that member or choose another --data-dir';
  const message = cause?.message ?? (error instanceof Error ? error.message : String(error));
  return `cannot be opened: ${message}`;
}

interface Loaded {
  memory: MemoryStorage;
  snapshotChunks: number;
  snapshotSlot: number | undefined;
  membership: unknown;
}

async function readRecord(db: Db, dir: string, key: Buffer, what: string): Promise<Buffer | undefined> {
  const value = await db.get(key);
  if (value === undefined) return undefined;
  const payload = openRecord(value);
  if (payload === undefined) throw new DataDirError(dir, `the ${what} record fails its checksum`);
  return payload;
}

/** Reads and verifies everything; nothing is repaired. */
async function load(db: Db, dir: string): Promise<Loaded> {
  const version = await readRecord(db, dir, KEY_VERSION, 'format version');
  if (version === undefined) {
    for await (const _key of db.keys({ limit: 1 })) throw new DataDirError(dir, 'has data but no format version: it is not a kvd data dir');
    await db.put(KEY_VERSION, encodeJson(FORMAT_VERSION), { sync: true });
  } else {
    const found = decodeJson<number>(version);
    if (found !== FORMAT_VERSION) throw new DataDirError(dir, `has format version ${String(found)}; this kvd reads version ${FORMAT_VERSION}`);
  }

  const hardPayload = await readRecord(db, dir, KEY_HARD_STATE, 'hard state');
  const hardState = hardPayload === undefined ? EMPTY_HARD_STATE : decodeHardState(hardPayload);
  if (hardState === undefined) throw new DataDirError(dir, 'the hard state record is malformed');

  const membershipPayload = await readRecord(db, dir, KEY_MEMBERSHIP, 'membership');
  const membership = membershipPayload === undefined ? undefined : decodeJson<unknown>(membershipPayload);

  let snapshot = EMPTY_SNAPSHOT;
  let snapshotChunks = 0;
  let snapshotSlot: number | undefined;
  const metaPayload = await readRecord(db, dir, KEY_SNAPSHOT_META, 'snapshot metadata');
  if (metaPayload !== undefined) {
    const meta = decodeJson<StoredSnapshotMeta>(metaPayload);
    if (meta === undefined) throw new DataDirError(dir, 'the snapshot metadata record is malformed');
    const parts: Buffer[] = [];
    for (let i = 0; i < meta.chunks; i++) {
      const part = await readRecord(db, dir, chunkKey(i, meta.slot), `snapshot chunk ${i}`);
      if (part === undefined) throw new DataDirError(dir, `snapshot chunk ${i} of ${meta.chunks} is missing`);
      parts.push(part);
    }
    const data = Buffer.concat(parts);
    if (data.length !== meta.size) throw new DataDirError(dir, `the snapshot has ${data.length} bytes, its metadata says ${meta.size}`);
    snapshot = { meta: { index: meta.index, term: meta.term, confState: meta.confState }, data: new Uint8Array(data) };
    snapshotChunks = meta.chunks;
    snapshotSlot = meta.slot;
  }

  const entries: Entry[] = [];
  for await (const [key, value] of db.iterator(entryRange(0, Number.MAX_SAFE_INTEGER))) {
    const index = entryIndexOf(key);
    const payload = openRecord(value);
    const entry = payload === undefined ? undefined : decodeEntry(payload);
    if (entry === undefined) throw new DataDirError(dir, `log entry ${index} fails its checksum`);
    if (entry.index !== index) throw new DataDirError(dir, `log entry ${index} is stored under the wrong key (it says ${entry.index})`);
    const previous = entries[entries.length - 1];
    if (previous !== undefined && index !== previous.index + 1) {
      throw new DataDirError(dir, `the log has a gap: entries ${previous.index + 1} to ${index - 1} are missing`);
    }
    entries.push(entry);
  }
  const first = entries[0];
  const snapshotIndex = snapshot.meta.index;
  if (first !== undefined && first.index > snapshotIndex + 1) {
    throw new DataDirError(dir, `the log has a gap: entries ${snapshotIndex + 1} to ${first.index - 1} are missing after the snapshot at ${snapshotIndex}`);
  }
  const lastIndex = Math.max(snapshotIndex, entries[entries.length - 1]?.index ?? 0);
  if (hardState.commit > lastIndex) {
    throw new DataDirError(dir, `the hard state commits index ${hardState.commit}, but the log ends at ${lastIndex}`);
  }
  const memory = new MemoryStorage();
  memory.load(snapshot, entries, hardState);
  return { memory, snapshotChunks, snapshotSlot, membership };
}
