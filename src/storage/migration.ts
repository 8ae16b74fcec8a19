import type { Entry } from '../raft/types.ts';
import { decodeJson, encodeJson, readRecord, readU64, recordInPlace, writeU64 } from './codec.ts';
import { DataDirError } from './errors.ts';
import type { KvBackend } from './kv-backend.ts';
import type { RowFormat } from './log-store.ts';
import { ENTRY_TYPES, checkLogFollows, encodeLogRow, entryKey, scanLog } from './log-store.ts';
import { SnapshotStore } from './snapshot-store.ts';
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
 * Brings the data dir in `db` to the current format before any store reads it: a new one gets
 * the version; an older one is checked first as the stores check a dir at open (log rows, hard
 * state, snapshot metadata and chunks, the log following the snapshot) and
 * then upgraded in one atomic synced batch, so that a crash leaves either the old dir or the new
 * one, and a dir that fails a check is refused unchanged. Throws DataDirError.
 *
 * A version 1 snapshot blob is not converted: only the member can turn its state into an image.
 * SnapshotStore reads it, and the member saves it again as an image when it starts.
 */
export async function migrate(db: KvBackend, dir: string): Promise<void> {
  const payload = await readRecord(db, dir, KEY_VERSION, 'format version');
  if (payload === undefined) return initialize(db, dir);
  const found = decodeJson<number>(payload);
  if (found === FORMAT_VERSION) return;
  if (typeof found !== 'number' || !READABLE_FORMAT_VERSIONS.includes(found)) {
    throw new DataDirError(dir, `has format version ${String(found)}; this kvd reads versions ${READABLE_FORMAT_VERSIONS.join(', ')}`);
  }
  // What this kvd writes an older one cannot read: say so in the data dir, in the same write.
  const ops: WriteOp[] = [{ type: 'put', key: KEY_VERSION, value: encodeJson(FORMAT_VERSION) }];
  // Every older version keeps one log entry per row: the log becomes one row.
  const log = await scanLog(db, dir, ENTRY_PER_ROW);
  await checkAllButTheLog(db, dir, log.entries);
  if (log.entries.length > 0) {
    for (const start of log.rows) ops.push({ type: 'del', key: entryKey(start) });
    ops.push({ type: 'put', key: entryKey(log.entries[0]!.index), value: encodeLogRow(log.entries) });
  }
  try {
    await db.batch(ops, { sync: true });
  } catch (error) {
    throw new DataDirError(dir, `cannot be upgraded from format version ${found} to ${FORMAT_VERSION} (${error instanceof Error ? error.message : String(error)}); it was left as it was`);
  }
}

/** A new dir gets the current version; a database with data but no version is not ours. */
async function initialize(db: KvBackend, dir: string): Promise<void> {
  for await (const _row of db.scan({})) throw new DataDirError(dir, 'has data but no format version: it is not a kvd data dir');
  await db.batch([{ type: 'put', key: KEY_VERSION, value: encodeJson(FORMAT_VERSION) }], { sync: true });
}

/** The checks the stores make once the log is read, made before the upgrade changes anything. */
async function checkAllButTheLog(db: KvBackend, dir: string, entries: readonly Entry[]): Promise<void> {
  const stable = await StableStore.read(db, dir);
  const { snapshot } = await SnapshotStore.read(db, dir);
  checkLogFollows(dir, entries, snapshot.meta.index);
  checkStableRecords(dir, stable, Math.max(snapshot.meta.index, entries[entries.length - 1]?.index ?? 0));
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
