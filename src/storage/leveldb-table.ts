import { readVarint, verifyMaskedCrc } from './leveldb-coding.ts';

/**
 * Checks a LevelDB table file (*.ldb) block by block, as LevelDB would with its paranoid checks
 * (which classic-level does not expose: without them LevelDB reads a data block without checking
 * its CRC). The format (LevelDB's doc/table_format.md): data blocks, a filter block, a metaindex
 * block, an index block, each followed by a 1-byte compression type and a masked CRC-32C of the
 * block and that byte; then a 48-byte footer: the metaindex and index blocks' handles (varint
 * offset and size), padding, a magic number. The index's and the metaindex's values are the
 * handles of the other blocks. Returns the problem, or undefined for a whole table.
 */
export function tableProblem(bytes: Buffer): string | undefined {
  const FOOTER = 48;
  if (bytes.length < FOOTER) return 'it is shorter than a table footer';
  const footer = bytes.subarray(bytes.length - FOOTER);
  if (footer.readUInt32LE(40) !== 0x8b80fb57 || footer.readUInt32LE(44) !== 0xdb477524) return 'its footer has no table magic number';
  const metaindex = readHandle(footer, 0);
  const index = metaindex === undefined ? undefined : readHandle(footer, metaindex.next);
  if (metaindex === undefined || index === undefined || index.next > 40 || footer.subarray(index.next, 40).some((byte) => byte !== 0)) return 'its footer cannot be decoded';
  const limit = bytes.length - FOOTER;
  for (const [what, handle] of [['metaindex', metaindex], ['index', index]] as const) {
    const contents = checkedBlock(bytes, handle, limit);
    if (typeof contents === 'string') return `its ${what} block ${contents}`;
    const handles = blockValues(contents);
    if (handles === undefined) return `its ${what} block cannot be decoded`;
    for (const value of handles) {
      const inner = readHandle(value, 0);
      if (inner === undefined) return `its ${what} block holds a handle that cannot be decoded`;
      const block = checkedBlock(bytes, inner, limit, false);
      if (typeof block === 'string') return `the block at byte ${inner.offset} ${block}`;
    }
  }
  return undefined;
}

interface Handle {
  readonly offset: number;
  readonly size: number;
  readonly next: number;
}

function readHandle(bytes: Buffer, at: number): Handle | undefined {
  const offset = readVarint(bytes, at);
  const size = offset === undefined ? undefined : readVarint(bytes, offset.next);
  if (offset === undefined || size === undefined) return undefined;
  return { offset: offset.value, size: size.value, next: size.next };
}

/**
 * A block's contents, its CRC verified (and, when `decode`, uncompressed), or what is wrong with
 * it. Blocks lie before `limit` (the footer).
 */
function checkedBlock(bytes: Buffer, handle: Handle, limit: number, decode = true): Buffer | string {
  const end = handle.offset + handle.size;
  if (end + 5 > limit) return 'runs past the end of the file';
  const type = bytes[end]!;
  if (!verifyMaskedCrc(bytes.subarray(handle.offset, end + 1), bytes.readUInt32LE(end + 1))) return 'fails its checksum';
  const stored = bytes.subarray(handle.offset, end);
  if (!decode || type === 0) return stored;
  if (type !== 1) return `has an unknown compression type ${type}`;
  return snappyUncompress(stored) ?? 'cannot be uncompressed';
}

/** The values of a block's entries (prefix-compressed keys, then a restart array). */
function blockValues(block: Buffer): Buffer[] | undefined {
  if (block.length < 4) return undefined;
  const restarts = block.readUInt32LE(block.length - 4);
  const end = block.length - 4 - 4 * restarts;
  if (end < 0) return undefined;
  const values: Buffer[] = [];
  for (let at = 0; at < end; ) {
    const shared = readVarint(block, at);
    const unshared = shared === undefined ? undefined : readVarint(block, shared.next);
    const length = unshared === undefined ? undefined : readVarint(block, unshared.next);
    if (length === undefined || unshared === undefined) return undefined;
    const valueAt = length.next + unshared.value;
    if (valueAt + length.value > end) return undefined;
    values.push(block.subarray(valueAt, valueAt + length.value));
    at = valueAt + length.value;
  }
  return values;
}

/**
 * Snappy's block format (google/snappy format_description.txt): the uncompressed length as a
 * varint, then literals and copies of earlier output. Undefined if it is malformed.
 */
function snappyUncompress(input: Buffer): Buffer | undefined {
  const header = readVarint(input, 0);
  if (header === undefined) return undefined;
  const out = Buffer.alloc(header.value);
  let written = 0;
  let at = header.next;
  while (at < input.length) {
    const tag = input[at++]!;
    let length: number;
    let offset: number;
    if ((tag & 3) === 0) {
      length = (tag >>> 2) + 1;
      if (length > 60) {
        const extra = length - 60;
        if (at + extra > input.length) return undefined;
        length = input.readUIntLE(at, extra) + 1;
        at += extra;
      }
      if (at + length > input.length || written + length > out.length) return undefined;
      input.copy(out, written, at, at + length);
      written += length;
      at += length;
      continue;
    }
    if ((tag & 3) === 1) {
      if (at + 1 > input.length) return undefined;
      length = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | input[at]!;
      at += 1;
    } else {
      const width = (tag & 3) === 2 ? 2 : 4;
      if (at + width > input.length) return undefined;
      length = (tag >>> 2) + 1;
      offset = input.readUIntLE(at, width);
      at += width;
    }
    if (offset === 0 || offset > written || written + length > out.length) return undefined;
    // A copy may overlap what it writes (a run): byte by byte.
    for (let i = 0; i < length; i++, written++) out[written] = out[written - offset]!;
  }
  return written === out.length ? out : undefined;
}
