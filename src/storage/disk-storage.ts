import type { Storage } from '../raft/storage.ts';
import { EMPTY_SNAPSHOT, MemoryStorage } from '../raft/storage.ts';
import { SnapshotTemporarilyUnavailableError } from '../raft/errors.ts';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMeta } from '../raft/types.ts';
import { EMPTY_HARD_STATE } from '../raft/types.ts';
import type { ImageShape, StoredSnapshotMeta } from './codec.ts';
import {
  FORMAT_VERSION,
  READABLE_FORMAT_VERSIONS,
  KEY_MEMBERSHIP,
  KEY_HARD_STATE,
  KEY_SNAPSHOT_META,
  KEY_VERSION,
  chunkKey,
  decodeEntry,
  decodeImageHead,
  decodeHardState,
  decodeJson,
  encodeLogRow,
  decodeLogRow,
  LAST_ENTRY_PER_ROW_VERSION,
  encodeHardState,
  encodeImageHead,
  encodeJson,
  entryIndexOf,
  entryKey,
  entryRange,
  imageDeltaKey,
  imageHeadKey,
  imagePageKey,
  imageRange,
  openRecord,
  recordInPlace,
} from './codec.ts';
import { DataDirError, StorageFailedError } from './errors.ts';
import type { ImageChanges, ImageRecord } from './image.ts';
import type { KvBackend } from './kv-backend.ts';
import { LevelDbBackend } from './leveldb-backend.ts';
import { decodeImage, encodeImage, packRecords, unpackRecords } from './image.ts';
import type { WriteOp } from './write-queue.ts';
import { WriteQueue } from './write-queue.ts';

/** A new base being written (DiskStorage.beginBase). */
export interface BaseWriter {
  /** Adds records (each directory before its children); full pages are written at once. */
  add(records: Iterable<ImageRecord>): Promise<void>;
  /** Writes the rest (last page, head, the delta if any), unsynced; the caller switches to it. */
  seal(index: number, head: Uint8Array, delta?: ImageChanges): Promise<{ slot: number; shape: ImageShape }>;
  /** Makes the base, with `delta` over it, the snapshot at `index`, synced, and drops the old one. */
  save(index: number, confState: ConfState, delta: ImageChanges): Promise<void>;
}

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

/** How the current snapshot's data is kept: none yet, an image (records), or a version 1 blob. */
type SnapshotForm = { readonly kind: 'none' } | { readonly kind: 'image'; readonly slot: number; readonly shape: ImageShape } | { readonly kind: 'blob'; readonly slot: number | undefined; readonly chunks: number };

/** Bytes of records per page of an image base. */
const PAGE_BYTES = 1024 * 1024;
const NO_DATA = new Uint8Array(0);

export { LEVELDB_MAX_OPEN_FILES } from './leveldb-backend.ts';

/**
 * The member's durable Raft state in one classic-level database under --data-dir. Raft reads it
 * synchronously from an in-memory copy (the log since the last compaction); `persist` writes one
 * atomic batch per Ready through a group-commit queue and updates the copy once durable.
 */
export class DiskStorage implements Storage {
  readonly dir: string;
  private readonly db: KvBackend;
  private readonly memory: MemoryStorage;
  private readonly queue: WriteQueue;
  private form: SnapshotForm;
  /**
   * Where each log row on disk starts, ascending (a row holds the entries one persist appended,
   * up to the next row's start, or the log's end for the last).
   */
  private rows: number[];
  /** The last index in the log once the writes queued so far land (persists may overlap). */
  private end: number;
  private failure: StorageFailedError | undefined;
  /** The server's membership record as last saved (Raft itself reads the snapshot's ConfState). */
  membership: unknown;
  /** For the operator, once the member has a logger: a torn final write dropped, wide modes. */
  readonly warnings: readonly string[];
  /**
   * Non-zero when the data dir lost entries it had acknowledged: its hard state committed this
   * index, past the end of what it holds. Raft is given the commit clamped to the log's end, and
   * must not vote until it has committed this index again (RaftConfig.catchUpTo).
   */
  readonly catchUpTo: number;
  /** The commit index the hard state on disk keeps until Raft's reaches it (0 once it has). */
  private keptCommit: number;

  private constructor(dir: string, db: KvBackend, loaded: Loaded, warnings: readonly string[]) {
    this.dir = dir;
    this.db = db;
    this.warnings = warnings;
    this.catchUpTo = loaded.catchUpTo;
    this.keptCommit = loaded.catchUpTo;
    this.memory = loaded.memory;
    this.form = loaded.form;
    this.rows = loaded.rows;
    this.end = loaded.memory.lastIndex();
    this.membership = loaded.membership;
    this.queue = new WriteQueue({ batch: (ops, opts) => this.db.batch(ops, opts) });
  }

  /**
   * Opens (or creates) the data dir and loads it. Throws DataDirError, naming the dir and the
   * problem, for anything it cannot trust: a dir that is not a whole LevelDB database, a failed
   * checksum (LevelDB's logs are checked before LevelDB opens them: checkDataDir), a gap in the
   * log, an unknown format version, a lock held by another member.
   */
  static async open(dir: string): Promise<DiskStorage> {
    const { backend, warnings, tornWrite } = await LevelDbBackend.open(dir);
    return DiskStorage.loadFrom(backend, dir, (loaded) => {
      const dropped = tornWrite === undefined ? [] : [`data dir ${dir}: ${tornWrite}; the log now ends at index ${loaded.memory.lastIndex()}`];
      return [...warnings, ...dropped];
    });
  }

  /**
   * Opens the storage kept in `backend` (a MemoryBackend in a simulation), checked and loaded as
   * `open` does a data dir; `label` stands for the dir in messages (DataDirError, warnings).
   */
  static openOn(backend: KvBackend, label: string): Promise<DiskStorage> {
    return DiskStorage.loadFrom(backend, label, () => []);
  }

  private static async loadFrom(db: KvBackend, dir: string, warningsFor: (loaded: Loaded) => string[]): Promise<DiskStorage> {
    try {
      const loaded = await load(db, dir);
      return new DiskStorage(dir, db, loaded, warningsFor(loaded));
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
    let installed: SnapshotForm | undefined;
    if (request.snapshot !== undefined) {
      // A leader's snapshot replaces our whole log. Its image goes into the free slot first;
      // the batch below switches to it.
      const { meta, data } = request.snapshot;
      const image = decodeImage(data);
      const base = await this.beginBase();
      await base.add(image.records);
      const { slot, shape } = await base.seal(meta.index, image.head);
      for (const start of this.rows) ops.push({ type: 'del', key: entryKey(start) });
      this.rows = [];
      this.end = meta.index;
      ops.push(this.metaPut({ ...meta, slot, image: shape }));
      installed = { kind: 'image', slot, shape };
    }
    if (request.entries.length > 0) this.appendRow(ops, request.entries);
    if (request.hardState !== undefined) ops.push({ type: 'put', key: KEY_HARD_STATE, value: encodeHardState(this.hardStateOnDisk(request.hardState)) });
    if (request.membership !== undefined) ops.push({ type: 'put', key: KEY_MEMBERSHIP, value: encodeJson(request.membership) });
    await this.write(ops, request.sync);
    if (request.snapshot !== undefined) {
      // The image is on disk; the data need not stay in memory (snapshotImage reads it back).
      this.memory.applySnapshot({ meta: request.snapshot.meta, data: NO_DATA });
      await this.switchTo(installed!);
    }
    this.memory.append(request.entries);
    if (request.hardState !== undefined) this.memory.setHardState(request.hardState);
    if (request.membership !== undefined) this.membership = request.membership;
  }

  /**
   * The hard state to write: while the member catches up on entries it lost, the commit index it
   * had acknowledged stays on disk, so that a restart before then still knows what was lost.
   */
  private hardStateOnDisk(hardState: HardState): HardState {
    if (hardState.commit >= this.keptCommit) this.keptCommit = 0;
    return this.keptCommit === 0 ? hardState : { ...hardState, commit: this.keptCommit };
  }

  /**
   * Adds to `ops` the row of `entries`, after dropping what they replace: the rows from their
   * first index on, and the end of the row before (a new leader's entries replacing ours).
   * Persists may overlap when they append (the log in memory then lags); replacing entries needs
   * the log in memory to have what it keeps of the row before.
   */
  private appendRow(ops: WriteOp[], entries: readonly Entry[]): void {
    const first = entries[0]!.index;
    const rows = this.rows;
    let kept = rows.length;
    while (kept > 0 && rows[kept - 1]! >= first) kept--;
    const before = kept > 0 ? rows[kept - 1]! : undefined;
    const cut = before !== undefined && this.end >= first;
    if (cut && first - 1 > this.memory.lastIndex()) throw new Error(`persist: entries from ${first} replace entries whose write has not landed yet`);
    for (const start of rows.splice(kept)) ops.push({ type: 'del', key: entryKey(start) });
    if (cut) {
      // Keep the part of that row before `first`: the part memory still has (a row that runs
      // into a compacted part of the log is kept from the compaction point on).
      ops.push({ type: 'del', key: entryKey(before) });
      rows.pop();
      const from = Math.max(before, this.memory.firstIndex());
      if (from < first) {
        ops.push({ type: 'put', key: entryKey(from), value: encodeLogRow(this.memory.entries(from, first, Infinity)) });
        rows.push(from);
      }
    }
    ops.push({ type: 'put', key: entryKey(first), value: encodeLogRow(entries) });
    rows.push(first);
    this.end = entries[entries.length - 1]!.index;
  }

  /** Whether the current snapshot is an image that `saveSnapshot` can update with changes only. */
  get takesImageChanges(): boolean {
    return this.form.kind === 'image';
  }

  /** The current image's base and deltas (zeros when there is none). */
  get imageShape(): ImageShape {
    return this.form.kind === 'image' ? this.form.shape : { pages: 0, baseBytes: 0, deltas: 0, deltaBytes: 0 };
  }

  /**
   * Saves a snapshot of our own state at `index` (which must be in the log) as one delta of the
   * current image: the records written and removed since the last one, in one atomic batch with
   * the head and the metadata. It goes out unsynced beside the log's write queue, so that the log's
   * writes and fsyncs go on meanwhile; a small synced write through the queue then makes it durable
   * (LevelDB's log is sequential) before this resolves and the log may be compacted.
   */
  async saveSnapshot(index: number, confState: ConfState, changes: ImageChanges): Promise<void> {
    if (this.form.kind !== 'image') throw new Error('saveSnapshot: changes need a current image; save a base first (beginBase)');
    const { slot, shape } = this.form;
    const delta = recordInPlace(packRecords(changes.puts, changes.removed, 4));
    const next: ImageShape = { ...shape, deltas: shape.deltas + 1, deltaBytes: shape.deltaBytes + delta.length - 4 };
    const metaPut = this.metaPut({ index, term: this.memory.term(index), confState, slot, image: next });
    await this.unqueued([
      { type: 'put', key: imageDeltaKey(slot, shape.deltas), value: delta },
      { type: 'put', key: imageHeadKey(slot), value: encodeImageHead(index, changes.head) },
      metaPut,
    ]);
    await this.write([metaPut], true);
    this.form = { kind: 'image', slot, shape: next };
    this.memory.createSnapshot(index, confState, NO_DATA);
  }

  /**
   * Starts a new base in the free slot: records are added as they come (full pages are written
   * at once, unsynced), and `save` makes it the snapshot at an index known only then, with a
   * delta of what changed while the records were being added.
   */
  async beginBase(): Promise<BaseWriter> {
    const slot = this.freeSlot();
    await this.unqueuedClear(imageRange(slot));
    let pages = 0;
    let baseBytes = 0;
    let page: ImageRecord[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      const packed = recordInPlace(packRecords(page, [], 4));
      page = [];
      bytes = 0;
      await this.unqueued([{ type: 'put', key: imagePageKey(slot, pages++), value: packed }]);
      baseBytes += packed.length - 4;
    };
    const seal = async (index: number, head: Uint8Array, delta?: ImageChanges): Promise<{ slot: number; shape: ImageShape }> => {
      if (page.length > 0) await flush();
      const ops: WriteOp[] = [{ type: 'put', key: imageHeadKey(slot), value: encodeImageHead(index, head) }];
      let shape: ImageShape = { pages, baseBytes, deltas: 0, deltaBytes: 0 };
      if (delta !== undefined && (delta.puts.length > 0 || delta.removed.length > 0)) {
        const packed = recordInPlace(packRecords(delta.puts, delta.removed, 4));
        ops.push({ type: 'put', key: imageDeltaKey(slot, 0), value: packed });
        shape = { ...shape, deltas: 1, deltaBytes: packed.length - 4 };
      }
      await this.unqueued(ops);
      return { slot, shape };
    };
    return {
      add: async (records) => {
        for (const entry of records) {
          page.push(entry);
          bytes += 8 + entry[0].length + entry[1].length;
          if (bytes >= PAGE_BYTES) await flush();
        }
      },
      seal,
      save: async (index, confState, delta) => {
        const { slot: written, shape } = await seal(index, delta.head, delta);
        await this.write([this.metaPut({ index, term: this.memory.term(index), confState, slot: written, image: shape })], true);
        await this.switchTo({ kind: 'image', slot: written, shape });
        // (Saving a version 1 snapshot again as an image keeps its index.)
        if (index > this.memory.snapshot().meta.index) this.memory.createSnapshot(index, confState, NO_DATA);
      },
    };
  }

  /**
   * Makes a base sealed in this data dir (beginBase, seal) its snapshot at `meta`, committed, with
   * the membership record, in one synced batch: a member's data dir made from a backup (kvctl
   * snapshot restore), which starts from that snapshot with an empty log. Only in a new data dir.
   */
  async installSealedBase(sealed: { slot: number; shape: ImageShape }, meta: SnapshotMeta, membership: unknown): Promise<void> {
    if (this.memory.lastIndex() !== 0 || this.form.kind !== 'none') throw new Error('installSealedBase: the data dir is not new');
    const hardState: HardState = { term: meta.term, vote: 0, commit: meta.index };
    await this.write([
      this.metaPut({ ...meta, slot: sealed.slot, image: sealed.shape }),
      { type: 'put', key: KEY_HARD_STATE, value: encodeHardState(hardState) },
      { type: 'put', key: KEY_MEMBERSHIP, value: encodeJson(membership) },
    ], true);
    this.memory.applySnapshot({ meta, data: NO_DATA });
    this.memory.setHardState(hardState);
    this.membership = membership;
    this.form = { kind: 'image', ...sealed };
  }

  /**
   * The current snapshot's image on the wire (for a follower), read at one point in time. Throws
   * SnapshotTemporarilyUnavailableError if the snapshot is no longer the one at `index`.
   */
  async snapshotImage(index: number): Promise<Uint8Array> {
    // (A version 1 blob is replaced by an image when the member starts: see takesImageChanges.)
    if (this.form.kind !== 'image') throw new SnapshotTemporarilyUnavailableError();
    const { head, records } = await this.readImage(this.form.slot);
    if (head.index !== index) throw new SnapshotTemporarilyUnavailableError();
    return encodeImage(head.head, [...records].flat());
  }

  /**
   * The current snapshot for the state machine to load at start: an image (its head, and its
   * records in batches: the base with the deltas applied), a version 1 blob, or nothing.
   */
  async loadSnapshot(): Promise<{ kind: 'image'; head: Buffer; records: Iterable<readonly ImageRecord[]> } | { kind: 'blob'; data: Uint8Array } | { kind: 'none' }> {
    if (this.form.kind === 'none') return { kind: 'none' };
    if (this.form.kind === 'blob') return { kind: 'blob', data: this.memory.snapshot().data };
    const { head, records } = await this.readImage(this.form.slot);
    const index = this.memory.snapshot().meta.index;
    if (head.index !== index) throw new DataDirError(this.dir, `the snapshot image is at index ${head.index}, its metadata says ${index}`);
    return { kind: 'image', head: head.head, records };
  }

  /**
   * Reads the image in `slot` through one iterator (one point in time), checksums verified (a
   * failure names the row): its head, and its records, the deltas applied to the base.
   */
  private async readImage(slot: number): Promise<{ head: { index: number; head: Buffer }; records: Iterable<readonly ImageRecord[]> }> {
    const pages: Buffer[] = [];
    const deltas: Buffer[] = [];
    let head: { index: number; head: Buffer } | undefined;
    for await (const [key, value] of this.db.scan(imageRange(slot))) {
      const what = key[2] === 0x68 ? 'head' : `${key[2] === 0x62 ? 'base page' : 'delta'} ${key.length === 7 ? key.readUInt32BE(3) : '?'}`;
      const payload = openRecord(value);
      if (payload === undefined) throw new DataDirError(this.dir, `snapshot image ${what} fails its checksum`);
      if (key[2] === 0x62) pages.push(payload);
      else if (key[2] === 0x64) deltas.push(payload);
      else head = decodeImageHead(payload);
    }
    if (head === undefined) throw new DataDirError(this.dir, 'the snapshot image has no head');
    return { head, records: mergeImage(pages, deltas) };
  }

  /** Makes `form` the current snapshot's and drops the data of the one it replaces. */
  private async switchTo(form: SnapshotForm): Promise<void> {
    const old = this.form;
    this.form = form;
    if (old.kind === 'image') await this.unqueuedClear(imageRange(old.slot));
    if (old.kind === 'blob') {
      const ops: WriteOp[] = [];
      for (let i = 0; i < old.chunks; i++) ops.push({ type: 'del', key: chunkKey(i, old.slot) });
      await this.unqueued(ops);
    }
  }

  /** The slot the next full image goes into: the one the current snapshot does not use. */
  private freeSlot(): number {
    return this.form.kind !== 'none' && this.form.slot === 0 ? 1 : 0;
  }

  private metaPut(meta: StoredSnapshotMeta): WriteOp {
    return { type: 'put', key: KEY_SNAPSHOT_META, value: encodeJson(meta) };
  }

  /** A batch beside the write queue, unsynced (a later synced write makes it durable). */
  private async unqueued(ops: WriteOp[]): Promise<void> {
    if (ops.length > 0) await this.guarded(() => this.db.batch(ops, { sync: false }));
  }

  private unqueuedClear(range: { gte: Buffer; lt: Buffer }): Promise<void> {
    return this.guarded(() => this.db.clear(range));
  }

  /** LevelDB work, queued or not: its failure fails it and every later write (StorageFailedError). */
  private async guarded(work: () => Promise<unknown>): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    try {
      await work();
    } catch (error) {
      throw this.fail(error);
    }
  }

  /**
   * Drops the log before `index` (which stays as the boundary entry): after a snapshot, callers
   * pass the snapshot index minus the tail they keep for slow followers. On disk, the rows that
   * end before `index` go; the row holding it stays whole (a restart loads it whole).
   */
  async compact(index: number): Promise<void> {
    if (index <= this.memory.firstIndex() - 1) return;
    if (index > this.memory.snapshot().meta.index) throw new RangeError(`compact(${index}) is past the snapshot at ${this.memory.snapshot().meta.index}`);
    this.memory.compact(index);
    const rows = this.rows;
    let dropped = 0;
    while (dropped + 1 < rows.length && rows[dropped + 1]! <= index) dropped++;
    if (dropped === 0) return;
    const range = entryRange(rows[0]!, rows[dropped]!);
    rows.splice(0, dropped);
    await this.guarded(async () => {
      await this.db.clear(range);
      // Let LevelDB reclaim the space now rather than whenever it next compacts this range.
      await this.db.reclaim(range);
    });
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private write(ops: WriteOp[], sync: boolean): Promise<void> {
    return this.guarded(() => this.queue.write(ops, sync));
  }

  private fail(error: unknown): StorageFailedError {
    this.failure ??= new StorageFailedError(this.dir, error);
    return this.failure;
  }
}

/**
 * An image's records: the base's, page by page, with the deltas applied (a later delta wins; a
 * removal drops the key), then the keys only the deltas have, in the order they first appear in
 * them (a key is written only once its directory exists, so a directory still comes first).
 */
function* mergeImage(pages: readonly Buffer[], deltas: readonly Buffer[]): Generator<readonly ImageRecord[]> {
  const overlay = new Map<string, Buffer | null>();
  for (const delta of deltas) for (const [key, value] of unpackRecords(delta)) overlay.set(key.toString('latin1'), value);
  for (const page of pages) {
    const batch: ImageRecord[] = [];
    for (const [key, value] of unpackRecords(page)) {
      const name = overlay.size > 0 ? key.toString('latin1') : undefined;
      const newer = name === undefined ? undefined : overlay.get(name);
      if (newer === undefined) {
        if (value !== null) batch.push([key, value]);
        continue;
      }
      overlay.delete(name!);
      if (newer !== null) batch.push([key, newer]);
    }
    yield batch;
  }
  const added: ImageRecord[] = [];
  for (const [name, value] of overlay) if (value !== null) added.push([Buffer.from(name, 'latin1'), value]);
  yield added;
}

interface Loaded {
  memory: MemoryStorage;
  form: SnapshotForm;
  rows: number[];
  membership: unknown;
  catchUpTo: number;
}

async function readRecord(db: KvBackend, dir: string, key: Buffer, what: string): Promise<Buffer | undefined> {
  const value = await db.get(key);
  if (value === undefined) return undefined;
  const payload = openRecord(value);
  if (payload === undefined) throw new DataDirError(dir, `the ${what} record fails its checksum`);
  return payload;
}

/** Reads and verifies everything; nothing is repaired (an older format is upgraded). */
async function load(db: KvBackend, dir: string): Promise<Loaded> {
  const version = await readRecord(db, dir, KEY_VERSION, 'format version');
  let found = FORMAT_VERSION;
  if (version === undefined) {
    for await (const _row of db.scan({})) throw new DataDirError(dir, 'has data but no format version: it is not a kvd data dir');
    await db.batch([{ type: 'put', key: KEY_VERSION, value: encodeJson(FORMAT_VERSION) }], { sync: true });
  } else {
    found = decodeJson<number>(version) as number;
    if (!READABLE_FORMAT_VERSIONS.includes(found)) {
      throw new DataDirError(dir, `has format version ${String(found)}; this kvd reads versions ${READABLE_FORMAT_VERSIONS.join(', ')}`);
    }
  }

  const hardPayload = await readRecord(db, dir, KEY_HARD_STATE, 'hard state');
  const hardState = hardPayload === undefined ? EMPTY_HARD_STATE : decodeHardState(hardPayload);
  if (hardState === undefined) throw new DataDirError(dir, 'the hard state record is malformed');

  const membershipPayload = await readRecord(db, dir, KEY_MEMBERSHIP, 'membership');
  const membership = membershipPayload === undefined ? undefined : decodeJson<unknown>(membershipPayload);

  let snapshot = EMPTY_SNAPSHOT;
  let form: SnapshotForm = { kind: 'none' };
  const metaPayload = await readRecord(db, dir, KEY_SNAPSHOT_META, 'snapshot metadata');
  const meta = metaPayload === undefined ? undefined : decodeJson<StoredSnapshotMeta>(metaPayload);
  if (metaPayload !== undefined && meta === undefined) throw new DataDirError(dir, 'the snapshot metadata record is malformed');
  if (meta !== undefined && meta.chunks === undefined) {
    // An image: its rows are read when the state machine loads it (loadSnapshot).
    snapshot = { meta: { index: meta.index, term: meta.term, confState: meta.confState }, data: NO_DATA };
    if (meta.image === undefined) throw new DataDirError(dir, 'the snapshot metadata record is malformed');
    form = { kind: 'image', slot: meta.slot ?? 0, shape: meta.image };
  } else if (meta?.chunks !== undefined) {
    const parts: Buffer[] = [];
    for (let i = 0; i < meta.chunks; i++) {
      const part = await readRecord(db, dir, chunkKey(i, meta.slot), `snapshot chunk ${i}`);
      if (part === undefined) throw new DataDirError(dir, `snapshot chunk ${i} of ${meta.chunks} is missing`);
      parts.push(part);
    }
    const data = Buffer.concat(parts);
    if (data.length !== meta.size) throw new DataDirError(dir, `the snapshot has ${data.length} bytes, its metadata says ${meta.size}`);
    snapshot = { meta: { index: meta.index, term: meta.term, confState: meta.confState }, data: new Uint8Array(data) };
    form = { kind: 'blob', slot: meta.slot, chunks: meta.chunks };
  }

  const { entries, rows } = await readLog(db, dir, found);
  if (found !== FORMAT_VERSION) {
    // What this kvd writes an older one cannot read: say so in the data dir, and keep the log as
    // this version does (one row), in the same atomic write.
    const ops: WriteOp[] = [{ type: 'put', key: KEY_VERSION, value: encodeJson(FORMAT_VERSION) }];
    if (found <= LAST_ENTRY_PER_ROW_VERSION && entries.length > 0) {
      for (const start of rows) ops.push({ type: 'del', key: entryKey(start) });
      ops.push({ type: 'put', key: entryKey(entries[0]!.index), value: encodeLogRow(entries) });
      rows.splice(0, rows.length, entries[0]!.index);
    }
    await db.batch(ops, { sync: true });
  }
  const first = entries[0];
  const snapshotIndex = snapshot.meta.index;
  if (first !== undefined && first.index > snapshotIndex + 1) {
    throw new DataDirError(dir, `the log has a gap: entries ${snapshotIndex + 1} to ${first.index - 1} are missing after the snapshot at ${snapshotIndex}`);
  }
  const lastIndex = Math.max(snapshotIndex, entries[entries.length - 1]?.index ?? 0);
  if (hardPayload === undefined && lastIndex > 0) throw new DataDirError(dir, `the log reaches index ${lastIndex}, but the hard state record is missing`);
  // Entries the hard state commits were acknowledged by this member; Raft must not count on them.
  const catchUpTo = hardState.commit > lastIndex ? hardState.commit : 0;
  const memory = new MemoryStorage();
  memory.load(snapshot, entries, catchUpTo === 0 ? hardState : { ...hardState, commit: lastIndex });
  return { memory, form, rows, membership, catchUpTo };
}

/** The log's entries, checked (checksums, keys, no gaps), and where its rows start. */
async function readLog(db: KvBackend, dir: string, version: number): Promise<{ entries: Entry[]; rows: number[] }> {
  const entries: Entry[] = [];
  const rows: number[] = [];
  const oneEntryRows = version <= LAST_ENTRY_PER_ROW_VERSION;
  const decodeRow = (payload: Buffer): Entry[] | undefined => {
    if (!oneEntryRows) return decodeLogRow(payload);
    const entry = decodeEntry(payload);
    return entry === undefined ? undefined : [entry];
  };
  for await (const [key, value] of db.scan(entryRange(0, Number.MAX_SAFE_INTEGER))) {
    const index = entryIndexOf(key);
    const payload = openRecord(value);
    const row = payload === undefined ? undefined : decodeRow(payload);
    const what = oneEntryRows ? `log entry ${index}` : `the log row from entry ${index}`;
    if (row === undefined) throw new DataDirError(dir, `${what} fails its checksum`);
    if (row[0]!.index !== index) throw new DataDirError(dir, `${what} is stored under the wrong key (it says ${row[0]!.index})`);
    const previous = entries[entries.length - 1];
    if (previous !== undefined && index !== previous.index + 1) {
      throw new DataDirError(dir, `the log has a gap: entries ${previous.index + 1} to ${index - 1} are missing`);
    }
    rows.push(index);
    for (const entry of row) entries.push(entry);
  }
  return { entries, rows };
}
