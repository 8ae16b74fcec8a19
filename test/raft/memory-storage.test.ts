import assert from 'node:assert/strict';
import { MemoryStorage } from '../../src/raft/storage.ts';

describe('MemoryStorage', () => {
  it('keeps an appended entry\'s data in a buffer of its own, not the larger buffer it was a view of', () => {
    const storage = new MemoryStorage();
    const pool = Buffer.alloc(65536, 7);
    const view = pool.subarray(100, 420);
    storage.append([{ term: 1, index: 1, type: 'normal', data: view }]);
    const [kept] = storage.entries(1, 2, Infinity);
    assert.equal(kept!.data.buffer.byteLength, 320, 'the 64 KiB buffer is not pinned by the log');
    assert.deepEqual(Buffer.from(kept!.data), Buffer.from(view));
  });

  it('keeps data that owns its whole buffer as it is (no copy)', () => {
    const storage = new MemoryStorage();
    const data = new Uint8Array([1, 2, 3]);
    storage.append([{ term: 1, index: 1, type: 'normal', data }]);
    assert.equal(storage.entries(1, 2, Infinity)[0]!.data, data);
  });
});
