import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

/** node:crypto loaded on first use, not at start-up: every kvctl command outside the quick path loads this module. */
function createHash(algorithm: string): Hash {
  return process.getBuiltinModule('node:crypto').createHash(algorithm);
}

/**
 * The file `kvctl snapshot save` writes (a backup of a whole kvd cluster), byte for byte as the
 * member sends it from GET /v2/kvd/snapshot:
 *   magic     8 bytes "KVDSNAP\n"
 *   header    u32be length, then JSON (SnapshotFileHeader)
 *   records   one per node, a directory before its children: u32be key length, key (the path,
 *             UTF-8), u32be value length, value (src/server/store-image.ts encodeNode)
 *   end       u32be 0xffffffff
 *   checksum  SHA-256 of every byte before it
 * A truncated or altered file fails the checksum, so nothing in it is trusted before that holds.
 */
export const SNAPSHOT_FILE_VERSION = 1;
const MAGIC = Buffer.from('KVDSNAP\n', 'latin1');
const END = 0xffffffff;
const CHECKSUM_BYTES = 32;
/** The smallest file: magic, a header length, the end mark and the checksum. */
const MIN_SIZE = MAGIC.length + 4 + 4 + CHECKSUM_BYTES;

export interface SnapshotFileHeader {
  readonly version: number;
  /** When the member took it (ISO 8601). */
  readonly created: string;
  /** The store's index (X-Etcd-Index) of the saved tree. */
  readonly index: number;
  /** The Raft index the member had applied, and its term. */
  readonly raftIndex: number;
  readonly term: number;
  /** Files (hidden ones too), not counting directories. */
  readonly keys: number;
  readonly clusterId: string;
  /** The member it was saved from. */
  readonly member: string;
  /** The membership of the cluster it was saved from, for the record (a restore takes its flags'). */
  readonly membership: unknown;
  /** The store's header besides its nodes (src/store/snapshot.ts StoreHeader). */
  readonly store: unknown;
  /** Users (with their password hashes), roles and the auth switch; absent in files made before auth. */
  readonly auth?: unknown;
}

/** A snapshot file that cannot be used; the message names the file and the problem in one line. */
export class SnapshotFileError extends Error {}

/** Encodes a snapshot file a part at a time, hashing as it goes. */
export class SnapshotFileEncoder {
  private readonly hash: Hash = createHash('sha256');

  /** The magic and the header. */
  start(header: SnapshotFileHeader): Buffer {
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(json.length, 0);
    return this.hashed(Buffer.concat([MAGIC, length, json]));
  }

  /** Records, framed. */
  records(records: ReadonlyArray<readonly [Uint8Array, Uint8Array]>): Buffer {
    let size = 0;
    for (const [key, value] of records) size += 8 + key.length + value.length;
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (const part of records.flat()) {
      out.writeUInt32BE(part.length, at);
      out.set(part, at + 4);
      at += 4 + part.length;
    }
    return this.hashed(out);
  }

  /** The end mark and the checksum. */
  finish(): Buffer {
    const end = Buffer.allocUnsafe(4);
    end.writeUInt32BE(END, 0);
    this.hash.update(end);
    return Buffer.concat([end, this.hash.digest()]);
  }

  private hashed(bytes: Buffer): Buffer {
    this.hash.update(bytes);
    return bytes;
  }
}

/** A verified file: its header, where its records start, and its size in bytes. */
export interface VerifiedSnapshot {
  readonly file: string;
  readonly header: SnapshotFileHeader;
  readonly recordsAt: number;
  readonly size: number;
}

/** Checks a snapshot file whole (magic, checksum, header); throws SnapshotFileError if it fails. */
export async function verifySnapshotFile(file: string): Promise<VerifiedSnapshot> {
  const { size, start, tail } = await readEnds(file);
  if (size < MIN_SIZE || !start.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new SnapshotFileError(`${file} is not a kvd snapshot file${size < MIN_SIZE && start.subarray(0, size).equals(MAGIC.subarray(0, size)) ? ' (it is truncated)' : ''}`);
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { start: 0, end: size - CHECKSUM_BYTES - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  if (!hash.digest().equals(tail)) throw new SnapshotFileError(`${file} is damaged: its checksum does not match its contents (the file is truncated or altered)`);
  const headerLength = start.readUInt32BE(MAGIC.length);
  const recordsAt = MAGIC.length + 4 + headerLength;
  if (recordsAt > size - CHECKSUM_BYTES - 4) throw new SnapshotFileError(`${file} is damaged: its header runs past its end`);
  const header = await readHeader(file, headerLength);
  if (header.version !== SNAPSHOT_FILE_VERSION) throw new SnapshotFileError(`${file} has snapshot format version ${String(header.version)}; this kvd reads version ${SNAPSHOT_FILE_VERSION}`);
  return { file, header, recordsAt, size };
}

/** The records of a verified file, in batches as they are read; throws SnapshotFileError if malformed. */
export async function* snapshotRecords(snapshot: VerifiedSnapshot): AsyncGenerator<Array<readonly [Buffer, Buffer]>> {
  const endAt = snapshot.size - CHECKSUM_BYTES - 4;
  let pending: Buffer = Buffer.alloc(0);
  let offset = snapshot.recordsAt;
  for await (const chunk of createReadStream(snapshot.file, { start: snapshot.recordsAt, end: snapshot.size - CHECKSUM_BYTES - 1, highWaterMark: 1 << 20 })) {
    const bytes = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
    const batch: Array<readonly [Buffer, Buffer]> = [];
    let at = 0;
    while (offset + at < endAt && at + 4 <= bytes.length) {
      const keyEnd = at + 4 + bytes.readUInt32BE(at);
      if (keyEnd + 4 > bytes.length) break;
      const valueEnd = keyEnd + 4 + bytes.readUInt32BE(keyEnd);
      if (valueEnd > bytes.length) break;
      batch.push([bytes.subarray(at + 4, keyEnd), bytes.subarray(keyEnd + 4, valueEnd)]);
      at = valueEnd;
    }
    offset += at;
    pending = bytes.subarray(at);
    if (offset > endAt) throw new SnapshotFileError(`${snapshot.file} is damaged: a record runs past the end of the records`);
    if (batch.length > 0) yield batch;
  }
  if (offset !== endAt || pending.length !== 4 || pending.readUInt32BE(0) !== END) throw new SnapshotFileError(`${snapshot.file} is damaged: its records do not end where its end mark is`);
}

async function readEnds(file: string): Promise<{ size: number; start: Buffer; tail: Buffer }> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new SnapshotFileError(`cannot open ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    const { size } = await handle.stat();
    const start = Buffer.alloc(MAGIC.length + 4);
    await handle.read(start, 0, start.length, 0);
    const tail = Buffer.alloc(CHECKSUM_BYTES);
    if (size >= CHECKSUM_BYTES) await handle.read(tail, 0, CHECKSUM_BYTES, size - CHECKSUM_BYTES);
    return { size, start, tail };
  } finally {
    await handle.close();
  }
}

async function readHeader(file: string, length: number): Promise<SnapshotFileHeader> {
  const handle = await open(file, 'r');
  try {
    const bytes = Buffer.alloc(length);
    await handle.read(bytes, 0, length, MAGIC.length + 4);
    const header = JSON.parse(bytes.toString('utf8')) as SnapshotFileHeader;
    if (typeof header !== 'object' || header === null || typeof header.index !== 'number' || typeof header.keys !== 'number') throw new Error('malformed');
    return header;
  } catch {
    throw new SnapshotFileError(`${file} is damaged: its header is not a snapshot header`);
  } finally {
    await handle.close();
  }
}
