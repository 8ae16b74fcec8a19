import type { Storage } from '../raft/storage.ts';
import { MemoryStorage } from '../raft/storage.ts';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMeta } from '../raft/types.ts';
import type { ImageChanges } from './image.ts';
import type { KvBackend } from './kv-backend.ts';
import { LevelDbBackend } from './leveldb-backend.ts';
import { LogStore } from './log-store.ts';
import type { BlobUpgrade } from './migration.ts';
import { migrate } from './migration.ts';
import type { ImageShape } from './snapshot-layout.ts';
import type { BaseWriter, LoadedSnapshot, SnapshotForm } from './snapshot-store.ts';
import { NO_DATA, SnapshotStore } from './snapshot-store.ts';
import { StableStore } from './stable-store.ts';
import { StorageWriter } from './storage-writer.ts';
import type { WriteOp } from './write-queue.ts';

export type { BaseWriter } from './snapshot-store.ts';
export { LEVELDB_MAX_OPEN_FILES } from './leveldb-backend.ts';

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

/** How a data dir is opened. */
export interface OpenOptions {
  /**
   * Converts a version 1 snapshot (kvd 0.1's blob) into an image as the dir is upgraded (the
   * server's state machine knows what the blob holds); without it such a dir is refused.
   */
  readonly upgradeBlob?: BlobUpgrade;
}

interface Parts {
  readonly memory: MemoryStorage;
  readonly writer: StorageWriter;
  readonly log: LogStore;
  readonly stable: StableStore;
  readonly snapshots: SnapshotStore;
}

/**
 * The member's durable Raft state, in one ordered key-value backend (classic-level under
 * --data-dir, or a MemoryBackend in a simulation), in three roles as hashicorp/raft names them: a
 * log store, a stable store and a snapshot store. Raft reads it synchronously from an in-memory
 * copy (the log since the last compaction); `persist` writes one atomic batch per Ready through a
 * group-commit queue and updates the copy once durable.
 */
export class DiskStorage implements Storage {
  readonly dir: string;
  /** For the operator, once the member has a logger: a torn final write dropped, wide modes. */
  readonly warnings: readonly string[];
  private readonly db: KvBackend;
  private readonly writer: StorageWriter;
  /** Raft's view: the log since the last compaction, the snapshot point and the hard state. */
  private readonly memory: MemoryStorage;
  private readonly log: LogStore;
  private readonly stable: StableStore;
  private readonly snapshots: SnapshotStore;

  private constructor(dir: string, db: KvBackend, warnings: readonly string[], parts: Parts) {
    this.dir = dir;
    this.db = db;
    this.warnings = warnings;
    this.memory = parts.memory;
    this.writer = parts.writer;
    this.log = parts.log;
    this.stable = parts.stable;
    this.snapshots = parts.snapshots;
  }

  /**
   * Opens (or creates) the data dir and loads it. Throws DataDirError, naming the dir and the
   * problem, for anything it cannot trust: a dir that is not a whole LevelDB database, a failed
   * checksum (LevelDB's logs are checked before LevelDB opens them: checkDataDir), a gap in the
   * log, an unknown format version, a lock held by another member.
   */
  static async open(dir: string, options: OpenOptions = {}): Promise<DiskStorage> {
    const { backend, warnings, tornWrite } = await LevelDbBackend.open(dir);
    const parts = await DiskStorage.load(backend, dir, options);
    const dropped = tornWrite === undefined ? [] : [`data dir ${dir}: ${tornWrite}; the log now ends at index ${parts.memory.lastIndex()}`];
    return new DiskStorage(dir, backend, [...warnings, ...dropped], parts);
  }

  /**
   * Opens the storage kept in `backend` (a MemoryBackend in a simulation): older formats are
   * upgraded first (migration.ts), then every store is loaded and checked as `open` does a data
   * dir. `label` stands for the dir in messages (DataDirError, StorageFailedError, warnings).
   */
  static async openOn(backend: KvBackend, label: string, options: OpenOptions = {}): Promise<DiskStorage> {
    return new DiskStorage(label, backend, [], await DiskStorage.load(backend, label, options));
  }

  /** Upgrades an older format, then loads and checks every store (closing the backend on failure). */
  private static async load(backend: KvBackend, label: string, options: OpenOptions): Promise<Parts> {
    try {
      await migrate(backend, label, options.upgradeBlob);
      const records = await StableStore.read(backend, label);
      const { snapshot, form } = await SnapshotStore.read(backend, label);
      const { entries, rows } = await LogStore.read(backend, label, snapshot.meta.index);
      const stable = new StableStore(label, records, Math.max(snapshot.meta.index, entries[entries.length - 1]?.index ?? 0));
      const memory = new MemoryStorage();
      // A snapshot holds only committed entries: a commit index written after it may lag behind it.
      const hardState = stable.initialHardState;
      memory.load(snapshot, entries, hardState.commit < snapshot.meta.index ? { ...hardState, commit: snapshot.meta.index } : hardState);
      const writer = new StorageWriter(backend, label);
      const log = new LogStore(writer, memory, rows);
      const snapshots = new SnapshotStore(backend, label, writer, memory, form);
      return { memory, writer, log, stable, snapshots };
    } catch (error) {
      await backend.close();
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

  /** The server's membership record as last saved (Raft itself reads the snapshot's ConfState). */
  get membership(): unknown {
    return this.stable.membership;
  }

  /**
   * Non-zero when the data dir lost entries it had acknowledged: its hard state committed this
   * index, past the end of what it holds. Raft is given the commit clamped to the log's end, and
   * must not vote until it has committed this index again (RaftConfig.catchUpTo).
   */
  get catchUpTo(): number {
    return this.stable.catchUpTo;
  }

  get writeStats(): { batches: number; syncs: number } {
    return this.writer.stats;
  }

  // --- writes ----------------------------------------------------------------------------------

  /** Makes one Ready's state durable as one atomic batch; resolves once it is (synced if asked). */
  async persist(request: PersistRequest): Promise<void> {
    const ops: WriteOp[] = [];
    let installed: SnapshotForm | undefined;
    if (request.snapshot !== undefined) {
      // A leader's snapshot replaces our whole log. Its image goes into the free slot first;
      // the batch below switches to it.
      installed = await this.snapshots.stageFromLeader(ops, request.snapshot);
      this.log.stageReplaceBySnapshot(ops, request.snapshot.meta.index);
    }
    if (request.entries.length > 0) this.log.stageAppend(ops, request.entries);
    if (request.hardState !== undefined) this.stable.stageHardState(ops, request.hardState);
    if (request.membership !== undefined) this.stable.stageMembership(ops, request.membership);
    await this.writer.write(ops, request.sync);
    if (request.snapshot !== undefined) {
      // The image is on disk; the data need not stay in memory (snapshotImage reads it back).
      this.memory.applySnapshot({ meta: request.snapshot.meta, data: NO_DATA });
      await this.snapshots.switchTo(installed!);
    }
    this.memory.append(request.entries);
    if (request.hardState !== undefined) this.memory.setHardState(request.hardState);
    if (request.membership !== undefined) this.stable.membership = request.membership;
  }

  /** Whether the current snapshot is an image that `saveSnapshot` can update with changes only. */
  get takesImageChanges(): boolean {
    return this.snapshots.takesImageChanges;
  }

  /** The current image's base and deltas (zeros when there is none). */
  get imageShape(): ImageShape {
    return this.snapshots.imageShape;
  }

  /**
   * Saves a snapshot of our own state at `index` (which must be in the log) as one delta of the
   * current image: the records written and removed since the last one, in one atomic batch with
   * the head and the metadata. It goes out unsynced beside the log's write queue, so that the log's
   * writes and fsyncs go on meanwhile; a small synced write through the queue then makes it durable
   * (LevelDB's log is sequential) before this resolves and the log may be compacted.
   */
  saveSnapshot(index: number, confState: ConfState, changes: ImageChanges): Promise<void> {
    return this.snapshots.saveSnapshot(index, confState, changes);
  }

  /**
   * Starts a new base in the free slot: records are added as they come (full pages are written
   * at once, unsynced), and `save` makes it the snapshot at an index known only then, with a
   * delta of what changed while the records were being added.
   */
  beginBase(): Promise<BaseWriter> {
    return this.snapshots.beginBase();
  }

  /**
   * Makes a base sealed in this data dir (beginBase, seal) its snapshot at `meta`, committed, with
   * the membership record, in one synced batch: a member's data dir made from a backup (kvctl
   * snapshot restore), which starts from that snapshot with an empty log. Only in a new data dir.
   */
  async installSealedBase(sealed: { slot: number; shape: ImageShape }, meta: SnapshotMeta, membership: unknown): Promise<void> {
    if (this.memory.lastIndex() !== 0) throw new Error('installSealedBase: the data dir is not new');
    const hardState: HardState = { term: meta.term, vote: 0, commit: meta.index };
    const ops: WriteOp[] = [];
    const form = this.snapshots.stageSealedBase(ops, sealed, meta);
    this.stable.stageHardState(ops, hardState);
    this.stable.stageMembership(ops, membership);
    await this.writer.write(ops, true);
    this.memory.applySnapshot({ meta, data: NO_DATA });
    this.memory.setHardState(hardState);
    this.stable.membership = membership;
    await this.snapshots.switchTo(form);
  }

  /**
   * The current snapshot's image on the wire (for a follower), read at one point in time. Throws
   * SnapshotTemporarilyUnavailableError if the snapshot is no longer the one at `index`.
   */
  snapshotImage(index: number): Promise<Uint8Array> {
    return this.snapshots.snapshotImage(index);
  }

  /**
   * The current snapshot for the state machine to load at start: an image (its head, and its
   * records in batches: the base with the deltas applied), or nothing.
   */
  loadSnapshot(): Promise<LoadedSnapshot> {
    return this.snapshots.loadSnapshot();
  }

  /**
   * Drops the log before `index` (which stays as the boundary entry): after a snapshot, callers
   * pass the snapshot index minus the tail they keep for slow followers. On disk, the rows that
   * end before `index` go; the row holding it stays whole (a restart loads it whole).
   */
  compact(index: number): Promise<void> {
    return this.log.compact(index);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
