import assert from 'node:assert/strict';
import type { KeysCommand } from '../../src/server/keys-command.ts';
import { BINARY_KEYS, decodeKeysPayload, encodeKeysPayload } from '../../src/server/payload-codec.ts';

const base: KeysCommand = { method: 'PUT', key: '/a', value: 'v', dir: false, prevValue: '', prevIndex: 0, recursive: false, sorted: false, refresh: false, expireTime: 0, now: 1_790_000_000_123 };

describe('keys payloads in log entries', () => {
  it('round-trip every field, unicode and empty strings included', () => {
    const commands: KeysCommand[] = [
      base,
      { ...base, method: 'POST', key: '/queue', value: 'ключ 値 🎉', dir: true, recursive: true, sorted: true, refresh: true, expireTime: 1_790_000_060_123 },
      { ...base, method: 'DELETE', prevValue: 'old', prevIndex: 2 ** 40, prevExist: false },
      { ...base, method: 'QGET', prevExist: true, value: 'x'.repeat(100_000) },
    ];
    for (const command of commands) {
      const data = encodeKeysPayload('m1-boot-42', command);
      assert.equal(data[0], BINARY_KEYS, 'never "{", the first byte of the JSON payloads');
      assert.deepEqual(decodeKeysPayload(data), { id: 'm1-boot-42', command });
    }
  });

  it('refuses truncated or unknown bytes', () => {
    const data = encodeKeysPayload('id', base);
    assert.throws(() => decodeKeysPayload(data.subarray(0, data.length - 1)), /truncated/);
    assert.throws(() => decodeKeysPayload(Uint8Array.from([BINARY_KEYS, 9, 0])), /malformed/);
  });
});
