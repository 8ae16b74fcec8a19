/**
 * LevelDB's encodings that kvd reads to check its files before LevelDB opens them: CRC-32C
 * (Castagnoli) stored masked, varints and length-prefixed slices (LevelDB's util/coding.h).
 */

/** Eight tables, so that the CRC takes 8 bytes a step (slicing-by-8): ~5x one byte a step. */
const TABLES = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    tables[0]![n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let t = 1; t < 8; t++) tables[t]![n] = (tables[0]![tables[t - 1]![n]! & 0xff]! ^ (tables[t - 1]![n]! >>> 8)) >>> 0;
  }
  return tables as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
})();

export function crc32c(bytes: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let crc = 0xffffffff;
  let i = 0;
  for (const end = bytes.length - 8; i <= end; i += 8) {
    const low = (crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    crc =
      t7[low & 0xff]! ^ t6[(low >>> 8) & 0xff]! ^ t5[(low >>> 16) & 0xff]! ^ t4[low >>> 24]! ^
      t3[bytes[i + 4]!]! ^ t2[bytes[i + 5]!]! ^ t1[bytes[i + 6]!]! ^ t0[bytes[i + 7]!]!;
  }
  for (; i < bytes.length; i++) crc = t0[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * Whether `masked` is LevelDB's stored CRC of `bytes`: masked so that a CRC of data that holds
 * CRCs is not itself a CRC of that data.
 */
export function verifyMaskedCrc(bytes: Uint8Array, masked: number): boolean {
  const rot = (masked - 0xa282ead8) >>> 0;
  return (((rot >>> 17) | (rot << 15)) >>> 0) === crc32c(bytes);
}

/** A little-endian base-128 integer (LevelDB's varint32/varint64; ours stay below 2^53). */
export function readVarint(bytes: Buffer, at: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
    scale *= 128;
  }
  return undefined;
}

/** A length-prefixed byte string. */
export function readSlice(bytes: Buffer, at: number): { value: Buffer; next: number } | undefined {
  const length = readVarint(bytes, at);
  if (length === undefined || length.next + length.value > bytes.length) return undefined;
  return { value: bytes.subarray(length.next, length.next + length.value), next: length.next + length.value };
}

