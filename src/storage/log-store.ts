import type { MemoryStorage } from '../raft/storage.ts';
import type { Entry, EntryType } from '../raft/types.ts';
import { openRecord, readU64, recordInPlace, writeU64 } from './codec.ts';
import { DataDirError } from './errors.ts';
import type { KvBackend } from './kv-backend.ts';
import type { StorageWriter } from './storage-writer.ts';
import type { WriteOp } from './write-queue.ts';

/**
 * The log on disk: "e" + u64be(index) holds a log row, the entries one persist appended, from
 * `index` on. Row payload: u64 first index, then per entry u64 term, u8 type, u32 data length,
 * data; contiguous indexes.
 */
export const ENTRY_PREFIX = 0x65; // 'e'
export const ENTRY_TYPES: readonly EntryType[] = ['normal', 'confChange'];

/** The key of the log row that starts at entry `index`. */
export function entryKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = ENTRY_PREFIX;
  writeU64(key, 1, index);
  return key;
}

export function entryIndexOf(key: Buffer): number {
  return readU64(key, 1);
}

/** The range of the rows starting from `from` up to `to` (excluded): [gte, lt). */
export function entryRange(from: number, to: number): { gte: Buffer; lt: Buffer } {
  return { gte: entryKey(from), lt: entryKey(to) };
}

/** A log row, as a record: one allocation for the whole row, checksum included. */
export function encodeLogRow(entries: readonly Entry[]): Buffer {
  let size = 4 + 8;
  for (const entry of entries) size += 13 + entry.data.length;
  const out = Buffer.allocUnsafe(size);
  writeU64(out, 4, entries[0]!.index);
  let at = 12;
  for (const entry of entries) {
    writeU64(out, at, entry.term);
    out[at + 8] = ENTRY_TYPES.indexOf(entry.type);
    out.writeUInt32BE(entry.data.length, at + 9);
    out.set(entry.data, at + 13);
    at += 13 + entry.data.length;
  }
  return recordInPlace(out);
}

/** A log row's entries (their data copied out of the payload), or undefined when malformed. */
export function decodeLogRow(payload: Buffer): Entry[] | undefined {
  if (payload.length < 8) return undefined;
  let index = readU64(payload, 0);
  const entries: Entry[] = [];
  for (let at = 8; at < payload.length; ) {
    if (at + 13 > payload.length) return undefined;
    const type = ENTRY_TYPES[payload[at + 8]!];
    const length = payload.readUInt32BE(at + 9);
    if (type === undefined || at + 13 + length > payload.length) return undefined;
    entries.push({ term: readU64(payload, at), index: index++, type, data: new Uint8Array(payload.subarray(at + 13, at + 13 + length)) });
    at += 13 + length;
  }
  return entries.length > 0 ? entries : undefined;
}

/** How rows of one format are decoded, and named in a refusal. */
export interface RowFormat {
  decode(payload: Buffer): Entry[] | undefined;
  name(index: number): string;
}

const LOG_ROWS: RowFormat = { decode: decodeLogRow, name: (index) => `the log row from entry ${index}` };

/** Every row of the log, checked (checksums, keys, no gaps), and where each starts. */
export async function scanLog(db: KvBackend, dir: string, format: RowFormat): Promise<{ entries: Entry[]; rows: number[] }> {
  const entries: Entry[] = [];
  const rows: number[] = [];
  for await (const [key, value] of db.scan(entryRange(0, Number.MAX_SAFE_INTEGER))) {
    const index = entryIndexOf(key);
    const payload = openRecord(value);
    const row = payload === undefined ? undefined : format.decode(payload);
    if (row === undefined) throw new DataDirError(dir, `${format.name(index)} fails its checksum`);
    if (row[0]!.index !== index) throw new DataDirError(dir, `${format.name(index)} is stored under the wrong key (it says ${row[0]!.index})`);
    const previous = entries[entries.length - 1];
    if (previous !== undefined && index !== previous.index + 1) {
      throw new DataDirError(dir, `the log has a gap: entries ${previous.index + 1} to ${index - 1} are missing`);
    }
    rows.push(index);
    for (const entry of row) entries.push(entry);
  }
  return { entries, rows };
}

/** A log that continues the snapshot at `snapshotIndex`; throws if entries after it are missing. */
export function checkLogFollows(dir: string, entries: readonly Entry[], snapshotIndex: number): void {
  const first = entries[0];
  if (first !== undefined && first.index > snapshotIndex + 1) {
    throw new DataDirError(dir, `the log has a gap: entries ${snapshotIndex + 1} to ${first.index - 1} are missing after the snapshot at ${snapshotIndex}`);
  }
}

/**
 * The log's rows on disk, kept equal to the log in Raft's in-memory view (`memory`, which
 * DiskStorage updates once a write is durable). Writes are staged into the caller's batch, so that
 * one Ready's entries, hard state and snapshot land together.
 */
export class LogStore {
  private readonly writer: StorageWriter;
  private readonly memory: MemoryStorage;
  /**
   * Where each log row on disk starts, ascending (a row holds the entries one persist appended,
   * up to the next row's start, or the log's end for the last).
   */
  private readonly rows: number[];
  /** The last index in the log once the writes staged so far land (persists may overlap). */
  private end: number;

  constructor(writer: StorageWriter, memory: MemoryStorage, rows: number[]) {
    this.writer = writer;
    this.memory = memory;
    this.rows = rows;
    this.end = memory.lastIndex();
  }

  /** Reads the log of a current-format data dir: its entries, checked, and where its rows start. */
  static async read(db: KvBackend, dir: string, snapshotIndex: number): Promise<{ entries: Entry[]; rows: number[] }> {
    const log = await scanLog(db, dir, LOG_ROWS);
    checkLogFollows(dir, log.entries, snapshotIndex);
    return log;
  }

  /** Adds to `ops` the deletion of every row: a leader's snapshot at `index` replaces the log. */
  stageReplaceBySnapshot(ops: WriteOp[], index: number): void {
    for (const start of this.rows.splice(0)) ops.push({ type: 'del', key: entryKey(start) });
    this.end = index;
  }

  /**
   * Adds to `ops` the row of `entries`, after dropping what they replace: the rows from their
   * first index on, and the end of the row before (a new leader's entries replacing ours).
   * Persists may overlap when they append (the log in memory then lags); replacing entries needs
   * the log in memory to have what it keeps of the row before.
   */
  stageAppend(ops: WriteOp[], entries: readonly Entry[]): void {
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
    // Let the backend reclaim the space now rather than whenever LevelDB next compacts this range.
    await this.writer.clear(range, true);
  }
}
