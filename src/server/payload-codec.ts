import type { KeysCommand } from './keys-command.ts';

/**
 * How a keys write travels in a log entry, in binary: it is encoded by the proposer and decoded
 * by every member for every write, which JSON made a visible share of the CPU per write.
 *   u8 0x01, u8 method, u8 flags (dir, recursive, sorted, refresh, prevExist given, prevExist),
 *   f64be prevIndex, expireTime, now, then id, key, value, prevValue: u32be byte length + UTF-8.
 * Every other payload is JSON (its first byte is "{"), as all were before.
 */
export const BINARY_KEYS = 0x01;
const METHODS: readonly KeysCommand['method'][] = ['PUT', 'POST', 'DELETE', 'QGET'];
const FIXED = 3 + 3 * 8;

export function encodeKeysPayload(id: string, command: KeysCommand): Uint8Array {
  const strings = [id, command.key, command.value, command.prevValue];
  let size = FIXED;
  for (const text of strings) size += 4 + Buffer.byteLength(text, 'utf8');
  const out = Buffer.allocUnsafe(size);
  out[0] = BINARY_KEYS;
  out[1] = METHODS.indexOf(command.method);
  out[2] = (command.dir ? 1 : 0) | (command.recursive ? 2 : 0) | (command.sorted ? 4 : 0) | (command.refresh ? 8 : 0)
    | (command.prevExist !== undefined ? 16 : 0) | (command.prevExist === true ? 32 : 0);
  out.writeDoubleBE(command.prevIndex, 3);
  out.writeDoubleBE(command.expireTime, 11);
  out.writeDoubleBE(command.now, 19);
  let at = FIXED;
  for (const text of strings) {
    const length = out.write(text, at + 4, 'utf8');
    out.writeUInt32BE(length, at);
    at += 4 + length;
  }
  return out;
}

/** Decodes `encodeKeysPayload`'s bytes; throws a RangeError on anything malformed. */
export function decodeKeysPayload(data: Uint8Array): { id: string; command: KeysCommand } {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const method = METHODS[bytes[1]!];
  if (bytes[0] !== BINARY_KEYS || method === undefined || bytes.length < FIXED) throw new RangeError('keys payload: malformed');
  const flags = bytes[2]!;
  let at = FIXED;
  const text = (): string => {
    if (at + 4 > bytes.length) throw new RangeError('keys payload: truncated');
    const end = at + 4 + bytes.readUInt32BE(at);
    if (end > bytes.length) throw new RangeError('keys payload: truncated');
    const value = bytes.toString('utf8', at + 4, end);
    at = end;
    return value;
  };
  const id = text();
  const command: KeysCommand = {
    method,
    key: text(),
    value: text(),
    dir: (flags & 1) !== 0,
    prevValue: text(),
    prevIndex: bytes.readDoubleBE(3),
    ...((flags & 16) !== 0 ? { prevExist: (flags & 32) !== 0 } : {}),
    recursive: (flags & 2) !== 0,
    sorted: (flags & 4) !== 0,
    refresh: (flags & 8) !== 0,
    expireTime: bytes.readDoubleBE(11),
    now: bytes.readDoubleBE(19),
  };
  return { id, command };
}
