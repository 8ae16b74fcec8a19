import { crc32 } from 'node:zlib';
import { DataDirError } from './errors.ts';
import type { KvBackend } from './kv-backend.ts';

/**
 * What every part of a data dir shares: each value is a record (u32be CRC-32 of the payload, then
 * the payload), integers are big-endian, small structured values are JSON. The keys, by owner:
 *   "v"                          format version                         migration.ts
 *   "e" + u64be(index)           log rows                               log-store.ts
 *   "h", "c"                     hard state, membership record          stable-store.ts
 *   "m", "r" + slot + ...        snapshot metadata, image rows          snapshot-layout.ts
 *   "s"                          a version 1 snapshot, until upgraded   migration.ts
 */

export function writeU64(buffer: Buffer, offset: number, value: number): void {
  buffer.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buffer.writeUInt32BE(value >>> 0, offset + 4);
}

export function readU64(buffer: Buffer, offset: number): number {
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

/** The payload of the record under `key` (undefined if absent); a failed checksum names `what`. */
export async function readRecord(db: KvBackend, dir: string, key: Buffer, what: string): Promise<Buffer | undefined> {
  const value = await db.get(key);
  if (value === undefined) return undefined;
  const payload = openRecord(value);
  if (payload === undefined) throw new DataDirError(dir, `the ${what} record fails its checksum`);
  return payload;
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
