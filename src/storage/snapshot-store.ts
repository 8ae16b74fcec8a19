import type { MemoryStorage } from '../raft/storage.ts';
import { EMPTY_SNAPSHOT } from '../raft/storage.ts';
import { SnapshotTemporarilyUnavailableError } from '../raft/errors.ts';
import type { ConfState, Snapshot, SnapshotMeta } from '../raft/types.ts';
import { decodeJson, encodeJson, openRecord, readRecord, recordInPlace } from './codec.ts';
import { DataDirError } from './errors.ts';
import type { ImageChanges, ImageRecord } from './image.ts';
import { decodeImage, encodeImage, packRecords, unpackRecords } from './image.ts';
import type { KvBackend } from './kv-backend.ts';
import type { ImageShape, StoredSnapshotMeta } from './snapshot-layout.ts';
import { DELTA_KIND, KEY_SNAPSHOT_META, PAGE_KIND, chunkKey, decodeImageHead, describeImageKey, encodeImageHead, imageDeltaKey, imageHeadKey, imagePageKey, imageRange } from './snapshot-layout.ts';
import type { StorageWriter } from './storage-writer.ts';
import type { WriteOp } from './write-queue.ts';

/** A new base being written (DiskStorage.beginBase). */
export interface BaseWriter {
  /** Adds records (each directory before its children); full pages are written at once. */
  add(records: Iterable<ImageRecord>): Promise<void>;
  /** Writes the rest (last page, head, the delta if any), unsynced; the caller switches to it. */
  seal(index: number, head: Uint8Array, delta?: ImageChanges): Promise<{ slot: number; shape: ImageShape }>;
  /** Makes the base, with `delta` over it, the snapshot at `index`, synced, and drops the old one. */
  save(index: number, confState: ConfState, delta: ImageChanges): Promise<void>;
}

/** How the current snapshot's data is kept: none yet, an image (records), or a version 1 blob. */
export type SnapshotForm = { readonly kind: 'none' } | { readonly kind: 'image'; readonly slot: number; readonly shape: ImageShape } | { readonly kind: 'blob'; readonly slot: number | undefined; readonly chunks: number };

/** The current snapshot for the state machine (DiskStorage.loadSnapshot). */
export type LoadedSnapshot = { kind: 'image'; head: Buffer; records: Iterable<readonly ImageRecord[]> } | { kind: 'blob'; data: Uint8Array } | { kind: 'none' };

/** Bytes of records per page of an image base. */
const PAGE_BYTES = 1024 * 1024;
export const NO_DATA = new Uint8Array(0);

/**
 * The snapshot store: the current snapshot's metadata and image (a base in pages, deltas over it)
 * in one of two slots. A new image is written into the free slot beside the current one, and one
 * synced metadata write switches to it. Raft's in-memory view (`memory`) learns of a snapshot
 * once its metadata is durable.
 */
export class SnapshotStore {
  private readonly db: KvBackend;
  private readonly dir: string;
  private readonly writer: StorageWriter;
  private readonly memory: MemoryStorage;
  private form: SnapshotForm;

  constructor(db: KvBackend, dir: string, writer: StorageWriter, memory: MemoryStorage, form: SnapshotForm) {
    this.db = db;
    this.dir = dir;
    this.writer = writer;
    this.memory = memory;
    this.form = form;
  }

  /** Reads the snapshot's metadata (and a version 1 blob's data), checked. */
  static async read(db: KvBackend, dir: string): Promise<{ snapshot: Snapshot; form: SnapshotForm }> {
    const metaPayload = await readRecord(db, dir, KEY_SNAPSHOT_META, 'snapshot metadata');
    if (metaPayload === undefined) return { snapshot: EMPTY_SNAPSHOT, form: { kind: 'none' } };
    const meta = decodeJson<StoredSnapshotMeta>(metaPayload);
    if (typeof meta !== 'object' || meta === null || (meta.chunks === undefined && meta.image === undefined)) throw new DataDirError(dir, 'the snapshot metadata record is malformed');
    const raftMeta: SnapshotMeta = { index: meta.index, term: meta.term, confState: meta.confState };
    // An image's rows are read when the state machine loads it (loadSnapshot).
    if (meta.chunks === undefined) return { snapshot: { meta: raftMeta, data: NO_DATA }, form: { kind: 'image', slot: meta.slot ?? 0, shape: meta.image! } };
    const data = await readBlob(db, dir, meta, meta.chunks);
    return { snapshot: { meta: raftMeta, data }, form: { kind: 'blob', slot: meta.slot, chunks: meta.chunks } };
  }

  /** Whether the current snapshot is an image that `saveSnapshot` can update with changes only. */
  get takesImageChanges(): boolean {
    return this.form.kind === 'image';
  }

  /** The current image's base and deltas (zeros when there is none). */
  get imageShape(): ImageShape {
    return this.form.kind === 'image' ? this.form.shape : { pages: 0, baseBytes: 0, deltas: 0, deltaBytes: 0 };
  }

  /** See DiskStorage.saveSnapshot. */
  async saveSnapshot(index: number, confState: ConfState, changes: ImageChanges): Promise<void> {
    if (this.form.kind !== 'image') throw new Error('saveSnapshot: changes need a current image; save a base first (beginBase)');
    const { slot, shape } = this.form;
    const delta = recordInPlace(packRecords(changes.puts, changes.removed, 4));
    const next: ImageShape = { ...shape, deltas: shape.deltas + 1, deltaBytes: shape.deltaBytes + delta.length - 4 };
    const metaPut = metaOp({ index, term: this.memory.term(index), confState, slot, image: next });
    await this.writer.unqueued([
      { type: 'put', key: imageDeltaKey(slot, shape.deltas), value: delta },
      { type: 'put', key: imageHeadKey(slot), value: encodeImageHead(index, changes.head) },
      metaPut,
    ]);
    await this.writer.write([metaPut], true);
    this.form = { kind: 'image', slot, shape: next };
    this.memory.createSnapshot(index, confState, NO_DATA);
  }

  /** See DiskStorage.beginBase. */
  async beginBase(): Promise<BaseWriter> {
    const slot = this.freeSlot();
    await this.writer.clear(imageRange(slot));
    let pages = 0;
    let baseBytes = 0;
    let page: ImageRecord[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      const packed = recordInPlace(packRecords(page, [], 4));
      page = [];
      bytes = 0;
      await this.writer.unqueued([{ type: 'put', key: imagePageKey(slot, pages++), value: packed }]);
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
      await this.writer.unqueued(ops);
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
        await this.writer.write([metaOp({ index, term: this.memory.term(index), confState, slot: written, image: shape })], true);
        await this.switchTo({ kind: 'image', slot: written, shape });
        // (Saving a version 1 snapshot again as an image keeps its index.)
        if (index > this.memory.snapshot().meta.index) this.memory.createSnapshot(index, confState, NO_DATA);
      },
    };
  }

  /**
   * Writes a leader's snapshot into the free slot and adds the metadata that switches to it to
   * `ops`; once those are durable, the caller calls `switchTo` with the form returned.
   */
  async stageFromLeader(ops: WriteOp[], snapshot: Snapshot): Promise<SnapshotForm> {
    const image = decodeImage(snapshot.data);
    const base = await this.beginBase();
    await base.add(image.records);
    const { slot, shape } = await base.seal(snapshot.meta.index, image.head);
    ops.push(metaOp({ ...snapshot.meta, slot, image: shape }));
    return { kind: 'image', slot, shape };
  }

  /** Adds to `ops` the metadata that makes a sealed base the snapshot at `meta` (a new data dir). */
  stageSealedBase(ops: WriteOp[], sealed: { slot: number; shape: ImageShape }, meta: SnapshotMeta): SnapshotForm {
    if (this.form.kind !== 'none') throw new Error('installSealedBase: the data dir is not new');
    ops.push(metaOp({ ...meta, slot: sealed.slot, image: sealed.shape }));
    return { kind: 'image', ...sealed };
  }

  /** Makes `form` the current snapshot's and drops the data of the one it replaces. */
  async switchTo(form: SnapshotForm): Promise<void> {
    const old = this.form;
    this.form = form;
    if (old.kind === 'image') await this.writer.clear(imageRange(old.slot));
    if (old.kind === 'blob') {
      const ops: WriteOp[] = [];
      for (let i = 0; i < old.chunks; i++) ops.push({ type: 'del', key: chunkKey(i, old.slot) });
      await this.writer.unqueued(ops);
    }
  }

  /** See DiskStorage.snapshotImage. */
  async snapshotImage(index: number): Promise<Uint8Array> {
    // (A version 1 blob is replaced by an image when the member starts: see takesImageChanges.)
    if (this.form.kind !== 'image') throw new SnapshotTemporarilyUnavailableError();
    const { head, records } = await this.readImage(this.form.slot);
    if (head.index !== index) throw new SnapshotTemporarilyUnavailableError();
    return encodeImage(head.head, [...records].flat());
  }

  /** See DiskStorage.loadSnapshot. */
  async loadSnapshot(): Promise<LoadedSnapshot> {
    if (this.form.kind === 'none') return { kind: 'none' };
    if (this.form.kind === 'blob') return { kind: 'blob', data: this.memory.snapshot().data };
    const { head, records } = await this.readImage(this.form.slot);
    const index = this.memory.snapshot().meta.index;
    if (head.index !== index) throw new DataDirError(this.dir, `the snapshot image is at index ${head.index}, its metadata says ${index}`);
    return { kind: 'image', head: head.head, records };
  }

  /**
   * Reads the image in `slot` through one scan (one point in time), checksums verified (a
   * failure names the row): its head, and its records, the deltas applied to the base.
   */
  private async readImage(slot: number): Promise<{ head: { index: number; head: Buffer }; records: Iterable<readonly ImageRecord[]> }> {
    const pages: Buffer[] = [];
    const deltas: Buffer[] = [];
    let head: { index: number; head: Buffer } | undefined;
    for await (const [key, value] of this.db.scan(imageRange(slot))) {
      const payload = openRecord(value);
      if (payload === undefined) throw new DataDirError(this.dir, `snapshot image ${describeImageKey(key)} fails its checksum`);
      if (key[2] === PAGE_KIND) pages.push(payload);
      else if (key[2] === DELTA_KIND) deltas.push(payload);
      else head = decodeImageHead(payload);
    }
    if (head === undefined) throw new DataDirError(this.dir, 'the snapshot image has no head');
    return { head, records: mergeImage(pages, deltas) };
  }

  /** The slot the next full image goes into: the one the current snapshot does not use. */
  private freeSlot(): number {
    return this.form.kind !== 'none' && this.form.slot === 0 ? 1 : 0;
  }
}

function metaOp(meta: StoredSnapshotMeta): WriteOp {
  return { type: 'put', key: KEY_SNAPSHOT_META, value: encodeJson(meta) };
}

/** A version 1 snapshot's data, its chunks checked. */
async function readBlob(db: KvBackend, dir: string, meta: StoredSnapshotMeta, chunks: number): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for (let i = 0; i < chunks; i++) {
    const part = await readRecord(db, dir, chunkKey(i, meta.slot), `snapshot chunk ${i}`);
    if (part === undefined) throw new DataDirError(dir, `snapshot chunk ${i} of ${chunks} is missing`);
    parts.push(part);
  }
  const data = Buffer.concat(parts);
  if (data.length !== meta.size) throw new DataDirError(dir, `the snapshot has ${data.length} bytes, its metadata says ${meta.size}`);
  return new Uint8Array(data);
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
