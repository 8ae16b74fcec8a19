import type { Entry, SnapshotMeta } from '../raft/types.ts';
import { decodeJson, encodeJson, readRecord, readU64, recordInPlace, writeU64 } from './codec.ts';
import { DataDirError } from './errors.ts';
import type { Image } from './image.ts';
import type { KvBackend } from './kv-backend.ts';
import type { RowFormat } from './log-store.ts';
import { ENTRY_TYPES, LogStore, checkLogFollows, encodeLogRow, entryKey, scanLog } from './log-store.ts';
import { KEY_SNAPSHOT_META } from './snapshot-layout.ts';
import { SnapshotStore, stageFirstImage } from './snapshot-store.ts';
import { StableStore, checkStableRecords } from './stable-store.ts';
import type { WriteOp } from './write-queue.ts';

/**
 * The data dir's format version ("v"). Version 3 (kvd 0.3) is the one the stores read:
 *   1  one log entry per row; the snapshot one blob in chunks (kvd 0.1)
 *   2  one log entry per row; the snapshot an image of records (kvd 0.2)
 *   3  one row per persisted batch of entries (kvd 0.3)
 */
export const KEY_VERSION = Buffer.from('v');
export const FORMAT_VERSION = 3;
/** The versions this kvd opens: older ones are upgraded to FORMAT_VERSION by `migrate`. */
export const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2, 3];

/**
 * Turns a version 1 snapshot's blob into an image of the same state, or throws if the blob does
 * not decode: only the server knows what its state machine put in the blob.
 */
export type BlobUpgrade = (blob: Uint8Array) => Image;

/**
 * Brings the data dir in `db` to the current format before any store reads it: a new one gets
 * the version; an older one is checked first as the stores check a dir at open (log rows, hard
 * state, snapshot metadata and chunks, the log following the snapshot; a version 1 snapshot is
 * converted by `upgradeBlob`) and then upgraded in one atomic synced batch, so that a crash leaves
 * either the old dir or the new one, and a dir that fails a check is refused unchanged. Throws
 * DataDirError.
 *
 * A version 1 snapshot is upgraded whatever the dir's version says: kvd 0.2 and 0.3 gave such a
 * dir their version at once and saved the snapshot again as an image only once the member started.
 */
export async function migrate(db: KvBackend, dir: string, upgradeBlob: BlobUpgrade | undefined): Promise<void> {
  const payload = await readRecord(db, dir, KEY_VERSION, 'format version');
  if (payload === undefined) return initialize(db, dir);
  const found = decodeJson<number>(payload);
  if (typeof found !== 'number' || !READABLE_FORMAT_VERSIONS.includes(found)) {
    throw new DataDirError(dir, `has format version ${String(found)}; this kvd reads versions ${READABLE_FORMAT_VERSIONS.join(', ')}`);
  }
  const blob = await readBlobSnapshot(db, dir);
  if (found === FORMAT_VERSION && blob === undefined) return;
  // What this kvd writes an older one cannot read: say so in the data dir, in the same write.
  const ops: WriteOp[] = [{ type: 'put', key: KEY_VERSION, value: encodeJson(FORMAT_VERSION) }];
  const snapshotIndex = blob?.meta.index ?? (await SnapshotStore.read(db, dir)).snapshot.meta.index;
  const entries = found === FORMAT_VERSION ? (await LogStore.read(db, dir, snapshotIndex)).entries : await stageLogAsOneRow(ops, db, dir, snapshotIndex);
  checkStableRecords(dir, await StableStore.read(db, dir), Math.max(snapshotIndex, entries[entries.length - 1]?.index ?? 0));
  if (blob !== undefined) stageBlobAsImage(ops, dir, blob, upgradeBlob);
  try {
    await db.batch(ops, { sync: true });
  } catch (error) {
    const from = blob === undefined || found === 1 ? `format version ${found}` : `format version ${found} with a version 1 snapshot`;
    throw new DataDirError(dir, `cannot be upgraded from ${from} to ${FORMAT_VERSION} (${error instanceof Error ? error.message : String(error)}); it was left as it was`);
  }
}

/** A new dir gets the current version; a database with data but no version is not ours. */
async function initialize(db: KvBackend, dir: string): Promise<void> {
  for await (const _row of db.scan({})) throw new DataDirError(dir, 'has data but no format version: it is not a kvd data dir');
  await db.batch([{ type: 'put', key: KEY_VERSION, value: encodeJson(FORMAT_VERSION) }], { sync: true });
}

/** Versions 1 and 2 keep one log entry per row: adds to `ops` the log as one row. Returns its entries. */
async function stageLogAsOneRow(ops: WriteOp[], db: KvBackend, dir: string, snapshotIndex: number): Promise<Entry[]> {
  const log = await scanLog(db, dir, ENTRY_PER_ROW);
  checkLogFollows(dir, log.entries, snapshotIndex);
  if (log.entries.length > 0) {
    for (const start of log.rows) ops.push({ type: 'del', key: entryKey(start) });
    ops.push({ type: 'put', key: entryKey(log.entries[0]!.index), value: encodeLogRow(log.entries) });
  }
  return log.entries;
}

/**
 * A version 1 snapshot (kvd 0.1): its metadata says the data is one blob of `size` bytes, in
 * `chunks` records under "s" + [u8(slot)] + u32be(chunk) (no slot in dirs from before slots).
 */
interface BlobMeta extends SnapshotMeta {
  readonly chunks: number;
  readonly size: number;
  readonly slot?: number;
}

/** The version 1 snapshot, its chunks checked; undefined when the dir has none (no snapshot, or an image). */
async function readBlobSnapshot(db: KvBackend, dir: string): Promise<{ meta: BlobMeta; data: Uint8Array } | undefined> {
  const payload = await readRecord(db, dir, KEY_SNAPSHOT_META, 'snapshot metadata');
  const meta = payload === undefined ? undefined : decodeJson<Partial<BlobMeta> | null>(payload);
  if (typeof meta?.chunks !== 'number') return undefined;
  const blob = meta as BlobMeta;
  const parts: Buffer[] = [];
  for (let i = 0; i < blob.chunks; i++) {
    const part = await readRecord(db, dir, chunkKey(i, blob.slot), `snapshot chunk ${i}`);
    if (part === undefined) throw new DataDirError(dir, `snapshot chunk ${i} of ${blob.chunks} is missing`);
    parts.push(part);
  }
  const data = Buffer.concat(parts);
  if (data.length !== blob.size) throw new DataDirError(dir, `the snapshot has ${data.length} bytes, its metadata says ${blob.size}`);
  return { meta: blob, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Adds to `ops` the image `upgradeBlob` makes of the blob, in place of its chunks. */
function stageBlobAsImage(ops: WriteOp[], dir: string, blob: { meta: BlobMeta; data: Uint8Array }, upgradeBlob: BlobUpgrade | undefined): void {
  if (upgradeBlob === undefined) throw new DataDirError(dir, 'holds a version 1 snapshot (kvd 0.1), which only kvd serve upgrades; it was left as it was');
  const { index, term, confState } = blob.meta;
  try {
    stageFirstImage(ops, { index, term, confState }, upgradeBlob(blob.data));
  } catch (error) {
    throw new DataDirError(dir, `its version 1 snapshot cannot be upgraded (${error instanceof Error ? error.message : String(error)}); it was left as it was`);
  }
  for (let i = 0; i < blob.meta.chunks; i++) ops.push({ type: 'del', key: chunkKey(i, blob.meta.slot) });
}

function chunkKey(chunk: number, slot: number | undefined): Buffer {
  const key = Buffer.allocUnsafe(slot === undefined ? 5 : 6);
  key[0] = 0x73; // 's'
  if (slot !== undefined) key[1] = slot;
  key.writeUInt32BE(chunk, key.length - 4);
  return key;
}

/** Versions 1 and 2: one entry per row. */
const ENTRY_PER_ROW: RowFormat = {
  decode: (payload) => {
    const entry = decodeEntry(payload);
    return entry === undefined ? undefined : [entry];
  },
  name: (index) => `log entry ${index}`,
};

/** A version 1 or 2 log row: u64 term, u64 index, u8 type, data (tests make old data dirs with it). */
export function encodeEntry(entry: Entry): Buffer {
  const out = Buffer.allocUnsafe(4 + 17 + entry.data.length);
  writeU64(out, 4, entry.term);
  writeU64(out, 12, entry.index);
  out[20] = ENTRY_TYPES.indexOf(entry.type);
  out.set(entry.data, 21);
  return recordInPlace(out);
}

function decodeEntry(payload: Buffer): Entry | undefined {
  if (payload.length < 17) return undefined;
  const type = ENTRY_TYPES[payload[16]!];
  if (type === undefined) return undefined;
  // Copy the data out: the payload may be a view of a larger buffer.
  return { term: readU64(payload, 0), index: readU64(payload, 8), type, data: new Uint8Array(payload.subarray(17)) };
}
