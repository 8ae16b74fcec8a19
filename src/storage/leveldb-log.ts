/**
 * A reader of LevelDB's log format (its write-ahead *.log files and its MANIFEST), written to
 * check them before LevelDB opens them. LevelDB (as classic-level opens it: no paranoid checks)
 * drops a record that fails its checksum, with the rest of its 32 KiB block, and says so only in
 * its own LOG file: writes it had synced and kvd had acknowledged would vanish without a word.
 *
 * The format (LevelDB's doc/log_format.md): 32 KiB blocks; each physical record is a 7-byte
 * header (masked CRC-32C of type and data, u16le length, u8 type) and its data; a logical record
 * is one FULL record or FIRST, MIDDLE..., LAST; a block's last < 7 bytes are zero padding.
 */

import { readSlice, verifyMaskedCrc } from './leveldb-coding.ts';

const BLOCK = 32 * 1024;
const HEADER = 7;
const ZERO = 0;
const FULL = 1;
const FIRST = 2;
const MIDDLE = 3;
const LAST = 4;

/** A log file read to its end: its logical records, and what its end looks like. */
export interface LogRead {
  readonly records: Buffer[];
  /**
   * Set when the file ends inside a record (the writer stopped during its last write, which was
   * therefore never durable): where that record starts and the bytes of it that are there
   * (unverified: no checksum covers a part).
   */
  readonly torn?: { readonly offset: number; readonly partial: Buffer };
}

/** A log file that is damaged, not merely cut short by a stopped writer. */
export class LogCorruption extends Error {
  readonly offset: number;
  constructor(offset: number, problem: string) {
    super(`${problem} at byte ${offset}`);
    this.offset = offset;
  }
}

/** Reads every record of a log file, verified; throws LogCorruption where it is damaged. */
export function readLogFile(bytes: Buffer): LogRead {
  const records: Buffer[] = [];
  let fragments: Buffer[] = [];
  let recordStart = -1;
  const tornHere = (at: number, partialData: Buffer): LogRead => {
    const offset = recordStart >= 0 ? recordStart : at;
    return { records, torn: { offset, partial: Buffer.concat([...fragments, partialData]) } };
  };
  let at = 0;
  while (at < bytes.length) {
    const blockStart = at - (at % BLOCK);
    const blockEnd = Math.min(blockStart + BLOCK, bytes.length);
    const lastBlock = blockEnd - blockStart < BLOCK;
    if (blockEnd - at < HEADER) {
      // A full block's padding, or a header cut short by the end of the file.
      if (!lastBlock) {
        at = blockEnd;
        continue;
      }
      if (isZeros(bytes, at, blockEnd) && recordStart < 0) return { records };
      return tornHere(at, Buffer.alloc(0));
    }
    const length = bytes.readUInt16LE(at + 4);
    const type = bytes[at + 6]!;
    if (type === ZERO && length === 0) {
      // Zeros where a header should be: a tail the file system extended but the writer never
      // filled (a crash). Data after them would be damage.
      if (!isZeros(bytes, at, bytes.length)) throw new LogCorruption(at, 'a zero-filled header followed by data');
      return recordStart >= 0 ? tornHere(at, Buffer.alloc(0)) : { records };
    }
    const end = at + HEADER + length;
    if (end > blockEnd) {
      if (lastBlock) return tornHere(at, bytes.subarray(at + HEADER, blockEnd));
      throw new LogCorruption(at, `a record of ${length} bytes that runs past its block`);
    }
    if (!verifyMaskedCrc(bytes.subarray(at + 6, end), bytes.readUInt32LE(at))) throw new LogCorruption(at, 'a record that fails its checksum');
    const data = bytes.subarray(at + HEADER, end);
    if (type === FULL || type === FIRST) {
      if (recordStart >= 0) throw new LogCorruption(at, 'a new record inside an unfinished one');
      if (type === FULL) records.push(data);
      else {
        recordStart = at;
        fragments = [data];
      }
    } else if (type === MIDDLE || type === LAST) {
      if (recordStart < 0) throw new LogCorruption(at, 'the continuation of a record that never began');
      fragments.push(data);
      if (type === LAST) {
        records.push(Buffer.concat(fragments));
        fragments = [];
        recordStart = -1;
      }
    } else {
      throw new LogCorruption(at, `a record of unknown type ${type}`);
    }
    at = end;
  }
  return recordStart >= 0 ? tornHere(at, Buffer.alloc(0)) : { records };
}

function isZeros(bytes: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

// --- the records' contents --------------------------------------------------------------------

/**
 * The operations of a write batch (a *.log record): a u64le sequence number, a u32le count, then
 * per operation a tag (1 put, 0 delete), the key and, for a put, the value. Stops at the first
 * operation that is not whole (a torn batch has only its start).
 */
export function batchOperations(batch: Buffer): Array<{ readonly put: boolean; readonly key: Buffer }> {
  const operations: Array<{ put: boolean; key: Buffer }> = [];
  let at = 12;
  while (at < batch.length) {
    const tag = batch[at]!;
    const key = readSlice(batch, at + 1);
    if ((tag !== 0 && tag !== 1) || key === undefined) break;
    at = key.next;
    if (tag === 1) {
      const value = readSlice(batch, at);
      // A put whose value is cut off still names its key: it is part of what was dropped.
      operations.push({ put: true, key: key.value });
      if (value === undefined) break;
      at = value.next;
    } else {
      operations.push({ put: false, key: key.value });
    }
  }
  return operations;
}
