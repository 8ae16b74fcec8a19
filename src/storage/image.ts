/**
 * A state machine's snapshot as the storage keeps and ships it: a head (one opaque blob) and
 * records (opaque key → value). Keeping records rather than one blob lets a snapshot be saved
 * incrementally: a delta of the records written or removed since the last one (see
 * DiskStorage.saveSnapshot).
 *
 * Records are packed: per record, u32be key length, key, u32be value length, value; in a delta a
 * value length of 0xffffffff (and no value) removes the key. On the wire (a snapshot sent to a
 * follower) an image is u32be head length, head, then its records packed.
 */
export interface Image {
  readonly head: Uint8Array;
  readonly records: Iterable<ImageRecord>;
}

export type ImageRecord = readonly [key: Uint8Array, value: Uint8Array];

/** What changed since the snapshot saved last (or since a base was begun), with the new head. */
export interface ImageChanges {
  readonly head: Uint8Array;
  readonly puts: readonly ImageRecord[];
  readonly removed: readonly Uint8Array[];
}

const REMOVED = 0xffffffff;

/** Encodes an image for the wire. */
export function encodeImage(head: Uint8Array, records: readonly ImageRecord[]): Uint8Array {
  const out = packRecords(records, [], 4 + head.length);
  out.writeUInt32BE(head.length, 0);
  out.set(head, 4);
  return out;
}

/**
 * Packs records (and, for a delta, removed keys) into one buffer, allocated once, after
 * `headroom` bytes left for the caller (a record's checksum, the wire's head).
 */
export function packRecords(records: readonly ImageRecord[], removed: readonly Uint8Array[], headroom = 0): Buffer {
  let size = headroom;
  for (const [key, value] of records) size += 8 + key.length + value.length;
  for (const key of removed) size += 8 + key.length;
  const out = Buffer.allocUnsafe(size);
  let at = headroom;
  const put = (part: Uint8Array): void => {
    out.writeUInt32BE(part.length, at);
    out.set(part, at + 4);
    at += 4 + part.length;
  };
  for (const [key, value] of records) {
    put(key);
    put(value);
  }
  for (const key of removed) {
    put(key);
    out.writeUInt32BE(REMOVED, at);
    at += 4;
  }
  return out;
}

/** The records packed in `bytes` from `from`; a removed key comes with value null. */
export function* unpackRecords(bytes: Buffer, from = 0): Generator<readonly [Buffer, Buffer | null]> {
  let at = from;
  while (at < bytes.length) {
    const keyEnd = at + 4 + readLength(bytes, at);
    const length = readLength(bytes, keyEnd);
    if (length === REMOVED) {
      if (keyEnd > bytes.length) throw new RangeError('snapshot image: truncated record');
      yield [bytes.subarray(at + 4, keyEnd), null];
      at = keyEnd + 4;
      continue;
    }
    const valueEnd = keyEnd + 4 + length;
    if (valueEnd > bytes.length) throw new RangeError('snapshot image: truncated record');
    yield [bytes.subarray(at + 4, keyEnd), bytes.subarray(keyEnd + 4, valueEnd)];
    at = valueEnd;
  }
}

/** Decodes an image from the wire; iterating its records throws a RangeError if it is truncated. */
export function decodeImage(data: Uint8Array): Image {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const headEnd = 4 + readLength(bytes, 0);
  if (headEnd > bytes.length) throw new RangeError('snapshot image: truncated head');
  return { head: bytes.subarray(4, headEnd), records: records(bytes, headEnd) };
}

function* records(bytes: Buffer, from: number): Generator<ImageRecord> {
  for (const [key, value] of unpackRecords(bytes, from)) {
    if (value === null) throw new RangeError('snapshot image: a removal outside a delta');
    yield [key, value];
  }
}

function readLength(bytes: Buffer, at: number): number {
  if (at + 4 > bytes.length) throw new RangeError('snapshot image: truncated length');
  return bytes.readUInt32BE(at);
}
