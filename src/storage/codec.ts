import { crc32 } from 'node:zlib';
import type { Entry, EntryType, HardState, SnapshotMeta } from '../raft/types.ts';

/**
 * The on-disk layout. Keys:
 *   "v"                 format version
 *   "h"                 hard state
 *   "c"                 membership record (the server's member list, names and URLs)
 *   "e" + u64be(index)  log row: the entries one Ready appended, from `index` on (version 3;
 *                       in versions 1 and 2, one entry per row)
 *   "m"                 snapshot metadata (index, term, configuration, slot, page and delta counts)
 *   "r" + u8(slot) + "h"            snapshot image head: u64be(index), then the state machine's head
 *   "r" + u8(slot) + "b" + u32be(n) snapshot image base, page n: packed records (image.ts)
 *   "r" + u8(slot) + "d" + u32be(n) snapshot image delta n: the records written and removed since
 *                                   the base and deltas before it
 *   "s" + [u8(slot)] + u32be(chunk)   a version 1 snapshot (one blob in chunks), still read
 * Every value is a record: u32be CRC-32 of the payload, then the payload.
 */
export const FORMAT_VERSION = 3;
/** Older versions this one reads (and upgrades as it writes). */
export const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2, 3];
/** The last version that kept one log entry per row. */
export const LAST_ENTRY_PER_ROW_VERSION = 2;

export const KEY_VERSION = Buffer.from('v');
export const KEY_HARD_STATE = Buffer.from('h');
export const KEY_MEMBERSHIP = Buffer.from('c');
export const KEY_SNAPSHOT_META = Buffer.from('m');
export const ENTRY_PREFIX = 0x65; // 'e'
const CHUNK_PREFIX = 0x73; // 's'
export const IMAGE_PREFIX = 0x72; // 'r'

/** The key of the image head in `slot`. */
export function imageHeadKey(slot: number): Buffer {
  return Buffer.from([IMAGE_PREFIX, slot, 0x68]);
}

/** The key of page `n` of the image base in `slot`. */
export function imagePageKey(slot: number, n: number): Buffer {
  return numberedKey(slot, 0x62, n);
}

/** The key of delta `n` of the image in `slot`. */
export function imageDeltaKey(slot: number, n: number): Buffer {
  return numberedKey(slot, 0x64, n);
}

function numberedKey(slot: number, kind: number, n: number): Buffer {
  const key = Buffer.allocUnsafe(7);
  key[0] = IMAGE_PREFIX;
  key[1] = slot;
  key[2] = kind;
  key.writeUInt32BE(n, 3);
  return key;
}

/** Every key of the image in `slot`: [gte, lt). */
export function imageRange(slot: number): { gte: Buffer; lt: Buffer } {
  return { gte: Buffer.from([IMAGE_PREFIX, slot]), lt: Buffer.from([IMAGE_PREFIX, slot + 1]) };
}

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

/** The range of all entry keys, for iterators and range deletes: [gte, lt). */
export function entryRange(from: number, to: number): { gte: Buffer; lt: Buffer } {
  return { gte: entryKey(from), lt: entryKey(to) };
}

/**
 * The key of a snapshot chunk. Snapshots alternate between two slots, so that a new one is
 * written beside the old and a small metadata write switches to it; data dirs from before slots
 * have their chunks under slot-less keys (`slot` undefined).
 */
export function chunkKey(chunk: number, slot?: number): Buffer {
  if (slot === undefined) {
    const key = Buffer.allocUnsafe(5);
    key[0] = CHUNK_PREFIX;
    key.writeUInt32BE(chunk, 1);
    return key;
  }
  const key = Buffer.allocUnsafe(6);
  key[0] = CHUNK_PREFIX;
  key[1] = slot;
  key.writeUInt32BE(chunk, 2);
  return key;
}

function writeU64(buffer: Buffer, offset: number, value: number): void {
  buffer.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buffer.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buffer: Buffer, offset: number): number {
  return buffer.readUInt32BE(offset) * 0x1_0000_0000 + buffer.readUInt32BE(offset + 4);
}

/** Wraps a payload in a record: its checksum first. */
export function record(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(crc32(payload), 0);
  payload.copy(out, 4);
  return out;
}

/** Makes a record of a buffer whose first 4 bytes were left for the checksum (no copy). */
export function recordInPlace(out: Buffer): Buffer {
  out.writeUInt32BE(crc32(out.subarray(4)), 0);
  return out;
}

/** The payload of a record, or undefined when the checksum does not match. */
export function openRecord(value: Buffer): Buffer | undefined {
  if (value.length < 4) return undefined;
  const payload = value.subarray(4);
  return crc32(payload) === value.readUInt32BE(0) ? payload : undefined;
}

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'confChange'];

/** A version 1 or 2 log row: u64 term, u64 index, u8 type, data (kvd now writes log rows; tests make old data dirs with it). */
export function encodeEntry(entry: Entry): Buffer {
  const out = Buffer.allocUnsafe(4 + 17 + entry.data.length);
  writeU64(out, 4, entry.term);
  writeU64(out, 12, entry.index);
  out[20] = ENTRY_TYPES.indexOf(entry.type);
  out.set(entry.data, 21);
  return recordInPlace(out);
}

/**
 * Log row payload (version 3): u64 first index, then per entry u64 term, u8 type, u32 data
 * length, data; contiguous indexes. One allocation for the whole row, checksum included.
 */
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

/** A version 1 or 2 log row: one entry. */
export function decodeEntry(payload: Buffer): Entry | undefined {
  if (payload.length < 17) return undefined;
  const type = ENTRY_TYPES[payload[16]!];
  if (type === undefined) return undefined;
  // Copy the data out: the payload may be a view of a larger buffer.
  return { term: readU64(payload, 0), index: readU64(payload, 8), type, data: new Uint8Array(payload.subarray(17)) };
}

export function encodeHardState(hardState: HardState): Buffer {
  const payload = Buffer.allocUnsafe(24);
  writeU64(payload, 0, hardState.term);
  writeU64(payload, 8, hardState.vote);
  writeU64(payload, 16, hardState.commit);
  return record(payload);
}

export function decodeHardState(payload: Buffer): HardState | undefined {
  if (payload.length !== 24) return undefined;
  return { term: readU64(payload, 0), vote: readU64(payload, 8), commit: readU64(payload, 16) };
}

/** JSON records for the small structured values (version, membership, snapshot metadata). */
export function encodeJson(value: unknown): Buffer {
  return record(Buffer.from(JSON.stringify(value)));
}

export function decodeJson<T>(payload: Buffer): T | undefined {
  try {
    return JSON.parse(payload.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

export interface StoredSnapshotMeta extends SnapshotMeta {
  /** Which of the two slots holds the data (absent in version 1 data dirs from before slots). */
  readonly slot?: number;
  /** Version 2: the image's base pages and deltas, and their sizes in bytes. */
  readonly image?: ImageShape;
  /** Version 1: the data is one blob in this many chunks, of `size` bytes in all. */
  readonly chunks?: number;
  readonly size?: number;
}

export interface ImageShape {
  readonly pages: number;
  readonly baseBytes: number;
  readonly deltas: number;
  readonly deltaBytes: number;
}

/** An image head row's payload: the snapshot index it belongs to, then the state machine's head. */
export function encodeImageHead(index: number, head: Uint8Array): Buffer {
  const payload = Buffer.allocUnsafe(8 + head.length);
  writeU64(payload, 0, index);
  payload.set(head, 8);
  return record(payload);
}

export function decodeImageHead(payload: Buffer): { index: number; head: Buffer } | undefined {
  if (payload.length < 8) return undefined;
  return { index: readU64(payload, 0), head: payload.subarray(8) };
}

