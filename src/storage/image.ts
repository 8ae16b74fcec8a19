/**
 * A state machine's snapshot as the storage keeps and ships it: a head (one opaque blob) and
 * records (opaque key → value), which the storage writes one LevelDB row each. Keeping records
 * rather than one blob lets a snapshot be saved incrementally: only the records written or
 * removed since the last one (see DiskStorage.saveSnapshot).
 *
 * On the wire (a snapshot sent to a follower) an image is one byte string:
 *   u32be head length, head, then per record: u32be key length, key, u32be value length, value.
 */
export interface Image {
  readonly head: Uint8Array;
  readonly records: Iterable<ImageRecord>;
}

export type ImageRecord = readonly [key: Uint8Array, value: Uint8Array];

/** A snapshot to save: the whole image, or what changed since the one saved last. */
export type ImageUpdate =
  | { readonly kind: 'full'; readonly image: Image }
  | { readonly kind: 'changes'; readonly head: Uint8Array; readonly puts: readonly ImageRecord[]; readonly removed: readonly Uint8Array[] };

/** Encodes an image for the wire. */
export function encodeImage(head: Uint8Array, records: Iterable<ImageRecord>): Uint8Array {
  const parts: Uint8Array[] = [lengthOf(head), head];
  let size = 4 + head.length;
  for (const [key, value] of records) {
    parts.push(lengthOf(key), key, lengthOf(value), value);
    size += 8 + key.length + value.length;
  }
  return Buffer.concat(parts, size);
}

/** Decodes an image from the wire; iterating its records throws a RangeError if it is truncated. */
export function decodeImage(data: Uint8Array): Image {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const headEnd = 4 + readLength(bytes, 0);
  if (headEnd > bytes.length) throw new RangeError('snapshot image: truncated head');
  return { head: bytes.subarray(4, headEnd), records: records(bytes, headEnd) };
}

function* records(bytes: Buffer, from: number): Generator<ImageRecord> {
  let at = from;
  while (at < bytes.length) {
    const keyEnd = at + 4 + readLength(bytes, at);
    const valueEnd = keyEnd + 4 + readLength(bytes, keyEnd);
    if (valueEnd > bytes.length) throw new RangeError('snapshot image: truncated record');
    yield [bytes.subarray(at + 4, keyEnd), bytes.subarray(keyEnd + 4, valueEnd)];
    at = valueEnd;
  }
}

function lengthOf(part: Uint8Array): Buffer {
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(part.length, 0);
  return length;
}

function readLength(bytes: Buffer, at: number): number {
  if (at + 4 > bytes.length) throw new RangeError('snapshot image: truncated length');
  return bytes.readUInt32BE(at);
}
