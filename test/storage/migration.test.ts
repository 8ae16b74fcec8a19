import assert from 'node:assert/strict';
import type { Entry } from '../../src/raft/types.ts';
import { decodeJson, encodeJson, openRecord } from '../../src/storage/codec.ts';
import { DiskStorage } from '../../src/storage/disk-storage.ts';
import { DataDirError } from '../../src/storage/errors.ts';
import { ENTRY_PREFIX, entryKey } from '../../src/storage/log-store.ts';
import { MemoryBackend } from '../../src/storage/memory-backend.ts';
import { encodeEntry, KEY_VERSION } from '../../src/storage/migration.ts';
import { KEY_SNAPSHOT_META } from '../../src/storage/snapshot-layout.ts';
import { encodeHardState, KEY_HARD_STATE } from '../../src/storage/stable-store.ts';
import type { WriteOp } from '../../src/storage/write-queue.ts';

const entry = (index: number, term = 1): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(`e${index}`) });
const conf = { voters: [1], learners: [] };

/** A version 2 data dir: one entry per row, from `from` to `to`, with a hard state unless told. */
async function version2(backend: MemoryBackend, from: number, to: number, extra: WriteOp[] = [], hardState = true): Promise<void> {
  const ops: WriteOp[] = [{ type: 'put', key: KEY_VERSION, value: encodeJson(2) }, ...extra];
  if (hardState) ops.push({ type: 'put', key: KEY_HARD_STATE, value: encodeHardState({ term: 1, vote: 1, commit: to }) });
  for (let i = from; i <= to; i++) ops.push({ type: 'put', key: entryKey(i), value: encodeEntry(entry(i)) });
  await backend.batch(ops, { sync: true });
}

/** The version and the log rows' start indexes, as the data dir has them. */
async function layout(backend: MemoryBackend): Promise<{ version: unknown; rows: number[] }> {
  const rows: number[] = [];
  for await (const [key] of backend.scan({})) if (key[0] === ENTRY_PREFIX) rows.push(key.readUInt32BE(5));
  return { version: decodeJson(openRecord((await backend.get(KEY_VERSION))!)!), rows };
}

describe('data dir migration (older formats upgraded before the stores load)', () => {
  it('upgrades a version 2 log to one row and version 3, in one synced batch', async () => {
    let backend = new MemoryBackend();
    await version2(backend, 1, 5);
    const storage = await DiskStorage.openOn(backend, 'mem');
    assert.deepEqual(storage.entries(1, 6, Infinity), [1, 2, 3, 4, 5].map((i) => entry(i)));
    await storage.close();
    backend = backend.crash();
    assert.deepEqual(await layout(backend), { version: 3, rows: [1] }, 'durable at once');
  });

  const unchanged = async (backend: MemoryBackend, pattern: RegExp) => {
    const before = await layout(backend);
    await assert.rejects(DiskStorage.openOn(backend, 'mem'), (error: unknown) => error instanceof DataDirError && pattern.test(error.message));
    const reopened = backend.reopen();
    assert.deepEqual(await layout(reopened), before, 'the data dir was left as it was');
    assert.equal(reopened.batches, 0);
  };

  it('refuses, unchanged, an old data dir whose log does not follow its snapshot', async () => {
    const backend = new MemoryBackend();
    const meta = { index: 2, term: 1, confState: conf, slot: 0, image: { pages: 0, baseBytes: 0, deltas: 0, deltaBytes: 0 } };
    await version2(backend, 5, 7, [{ type: 'put', key: KEY_SNAPSHOT_META, value: encodeJson(meta) }]);
    await unchanged(backend, /the log has a gap: entries 3 to 4 are missing after the snapshot at 2/);
  });

  it('refuses, unchanged, an old data dir with a log but no hard state', async () => {
    const backend = new MemoryBackend();
    await version2(backend, 1, 3, [], false);
    await unchanged(backend, /the log reaches index 3, but the hard state record is missing/);
  });

  it('refuses, unchanged, an old data dir with a damaged row', async () => {
    const backend = new MemoryBackend();
    await version2(backend, 1, 3);
    const damaged = Buffer.from((await backend.get(entryKey(2)))!);
    damaged[damaged.length - 1]! ^= 1;
    await backend.batch([{ type: 'put', key: entryKey(2), value: damaged }], { sync: true });
    await unchanged(backend, /log entry 2 fails its checksum/);
  });

  it('a crash during the upgrade leaves the old data dir, which upgrades on the next start', async () => {
    let blocking = false;
    let release = (): void => {};
    let reachedDisk = (): void => {};
    const upgradeWaits = new Promise<void>((resolve) => (reachedDisk = resolve));
    const io = () => (blocking ? new Promise<void>((resolve) => ((release = resolve), reachedDisk())) : Promise.resolve());
    const backend = new MemoryBackend({ io });
    await version2(backend, 1, 4);
    blocking = true;
    const opening = DiskStorage.openOn(backend, 'mem');
    await upgradeWaits;
    const restarted = backend.crash();
    blocking = false;
    release();
    await assert.rejects(opening);
    assert.deepEqual(await layout(restarted), { version: 2, rows: [1, 2, 3, 4] });
    const storage = await DiskStorage.openOn(restarted, 'mem');
    assert.equal(storage.lastIndex(), 4);
    await storage.close();
    assert.deepEqual(await layout(restarted.crash()), { version: 3, rows: [1] });
  });

  it('a failed sync during the upgrade is refused naming the cause, leaving the old data dir', async () => {
    const backend = new MemoryBackend();
    await version2(backend, 1, 3);
    backend.failSyncs();
    await assert.rejects(DiskStorage.openOn(backend, 'mem'), /data dir mem: cannot be upgraded from format version 2 to 3 \(EIO.*it was left as it was/);
    const restarted = backend.crash();
    assert.deepEqual(await layout(restarted), { version: 2, rows: [1, 2, 3] });
    const storage = await DiskStorage.openOn(restarted, 'mem');
    assert.deepEqual(storage.entries(1, 4, Infinity), [entry(1), entry(2), entry(3)]);
    await storage.close();
  });

  it('opens a current (version 3) data dir without writing anything', async () => {
    const backend = new MemoryBackend();
    const storage = await DiskStorage.openOn(backend, 'mem');
    await storage.persist({ entries: [entry(1), entry(2)], hardState: { term: 1, vote: 1, commit: 2 }, sync: true });
    await storage.close();
    const reopened = backend.reopen();
    await (await DiskStorage.openOn(reopened, 'mem')).close();
    assert.equal(reopened.batches, 0);
  });
});
