import type { MemoryStorage } from '../raft/storage.ts';
import { EMPTY_SNAPSHOT } from '../raft/storage.ts';
import { SnapshotTemporarilyUnavailableError } from '../raft/errors.ts';
import type { ConfState, Snapshot, SnapshotMeta } from '../raft/types.ts';
import { decodeJson, encodeJson, openRecord, readRecord, recordInPlace } from './codec.ts';
import { DataDirError } from './errors.ts';
import type { Image, ImageChanges, ImageRecord } from './image.ts';
import { DeltaOverlay } from './delta-overlay.ts';
import { decodeImage, encodeImage, packRecords, unpackRecords } from './image.ts';
import type { KvBackend } from './kv-backend.ts';
import type { ImageShape, StoredSnapshotMeta } from './snapshot-layout.ts';
import { DELTA_KIND, KEY_SNAPSHOT_META, PAGE_KIND, decodeImageHead, describeImageKey, encodeImageHead, imageDeltaKey, imageHeadKey, imagePageKey, imageRange } from './snapshot-layout.ts';
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

/** How the current snapshot's data is kept: none yet, or an image (records) in a slot. */
export type SnapshotForm = { readonly kind: 'none' } | { readonly kind: 'image'; readonly slot: number; readonly shape: ImageShape };

/** The current snapshot for the state machine (DiskStorage.loadSnapshot). */
export type LoadedSnapshot = { kind: 'image'; head: Buffer; records: Iterable<readonly ImageRecord[]> } | { kind: 'none' };

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

  /** Reads the snapshot's metadata, checked (the image's rows are read by loadSnapshot). */
  static async read(db: KvBackend, dir: string): Promise<{ snapshot: Snapshot; form: SnapshotForm }> {
    const metaPayload = await readRecord(db, dir, KEY_SNAPSHOT_META, 'snapshot metadata');
    if (metaPayload === undefined) return { snapshot: EMPTY_SNAPSHOT, form: { kind: 'none' } };
    const meta = decodeJson<StoredSnapshotMeta>(metaPayload);
    if (typeof meta !== 'object' || meta === null || typeof meta.image !== 'object' || (meta.slot !== 0 && meta.slot !== 1)) throw new DataDirError(dir, 'the snapshot metadata record is malformed');
    const raftMeta: SnapshotMeta = { index: meta.index, term: meta.term, confState: meta.confState };
    return { snapshot: { meta: raftMeta, data: NO_DATA }, form: { kind: 'image', slot: meta.slot, shape: meta.image } };
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
    const packer = new PagePacker();
    const write = async (page: Buffer): Promise<void> => {
      await this.writer.unqueued([{ type: 'put', key: imagePageKey(slot, pages++), value: page }]);
      baseBytes += page.length - 4;
    };
    const seal = async (index: number, head: Uint8Array, delta?: ImageChanges): Promise<{ slot: number; shape: ImageShape }> => {
      const last = packer.rest();
      if (last !== undefined) await write(last);
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
          const full = packer.add(entry);
          if (full !== undefined) await write(full);
        }
      },
      seal,
      save: async (index, confState, delta) => {
        const { slot: written, shape } = await seal(index, delta.head, delta);
        await this.writer.write([metaOp({ index, term: this.memory.term(index), confState, slot: written, image: shape })], true);
        await this.switchTo({ kind: 'image', slot: written, shape });
        this.memory.createSnapshot(index, confState, NO_DATA);
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
  }

  /** See DiskStorage.snapshotImage. */
  async snapshotImage(index: number): Promise<Uint8Array> {
    if (this.form.kind !== 'image') throw new SnapshotTemporarilyUnavailableError();
    const { head, records } = await this.readImage(this.form.slot);
    if (head.index !== index) throw new SnapshotTemporarilyUnavailableError();
    return encodeImage(head.head, [...records].flat());
  }

  /** See DiskStorage.loadSnapshot. */
  async loadSnapshot(): Promise<LoadedSnapshot> {
    if (this.form.kind === 'none') return { kind: 'none' };
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

/**
 * Adds to `ops` a whole image as the snapshot at `meta`, in slot 0: its base pages, its head and
 * the metadata, for one batch into a data dir that has no image (the migration of a version 1
 * snapshot).
 */
export function stageFirstImage(ops: WriteOp[], meta: SnapshotMeta, image: Image): void {
  let pages = 0;
  let baseBytes = 0;
  const stage = (page: Buffer): void => {
    ops.push({ type: 'put', key: imagePageKey(0, pages++), value: page });
    baseBytes += page.length - 4;
  };
  const packer = new PagePacker();
  for (const entry of image.records) {
    const full = packer.add(entry);
    if (full !== undefined) stage(full);
  }
  const last = packer.rest();
  if (last !== undefined) stage(last);
  ops.push({ type: 'put', key: imageHeadKey(0), value: encodeImageHead(meta.index, image.head) });
  ops.push(metaOp({ ...meta, slot: 0, image: { pages, baseBytes, deltas: 0, deltaBytes: 0 } }));
}

/** Gathers records into base pages of about PAGE_BYTES, each packed as a record (checksum first). */
class PagePacker {
  private records: ImageRecord[] = [];
  private bytes = 0;

  /** Adds a record; returns the page it fills, packed. */
  add(entry: ImageRecord): Buffer | undefined {
    this.records.push(entry);
    this.bytes += 8 + entry[0].length + entry[1].length;
    return this.bytes >= PAGE_BYTES ? this.take() : undefined;
  }

  /** The records not in a page yet, packed (undefined when there are none). */
  rest(): Buffer | undefined {
    return this.records.length > 0 ? this.take() : undefined;
  }

  private take(): Buffer {
    const page = recordInPlace(packRecords(this.records, [], 4));
    this.records = [];
    this.bytes = 0;
    return page;
  }
}

/**
 * An image's records: the base's, page by page, with the deltas applied (a later delta wins; a
 * removal drops the key), then the keys only the deltas have, in the order they first appear in
 * them (a key is written only once its directory exists, so a directory still comes first).
 */
function* mergeImage(pages: readonly Buffer[], deltas: readonly Buffer[]): Generator<readonly ImageRecord[]> {
  const overlay = new DeltaOverlay();
  for (const delta of deltas) for (const [key, value] of unpackRecords(delta)) overlay.set(key, value);
  for (const page of pages) {
    const batch: ImageRecord[] = [];
    for (const [key, value] of unpackRecords(page)) {
      const newer = overlay.size > 0 ? overlay.take(key) : undefined;
      if (newer === undefined) {
        if (value !== null) batch.push([key, value]);
      } else if (newer.value !== null) {
        batch.push([key, newer.value]);
      }
    }
    yield batch;
  }
  yield [...overlay.untaken()];
}
