import assert from 'node:assert/strict';
import type { Entry } from '../../src/raft/types.ts';
import { DiskStorage } from '../../src/storage/disk-storage.ts';
import { StorageFailedError } from '../../src/storage/errors.ts';
import { MemoryBackend } from '../../src/storage/memory-backend.ts';

const key = (s: string) => Buffer.from(s, 'latin1');
const put = (k: string, v: string) => ({ type: 'put' as const, key: key(k), value: Buffer.from(v) });
const del = (k: string) => ({ type: 'del' as const, key: key(k) });
const entry = (index: number, term = 1): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(`e${index}`) });

async function contents(backend: MemoryBackend): Promise<Record<string, string>> {
  const rows: Record<string, string> = {};
  for await (const [k, v] of backend.scan({})) rows[k.toString('latin1')] = v.toString();
  return rows;
}

describe('MemoryBackend', () => {
  it('a crash keeps every write up to the last synced batch and drops exactly the unsynced ones after it', async () => {
    const backend = new MemoryBackend();
    await backend.batch([put('a', '1'), put('x', 'gone')], { sync: false });
    await backend.batch([put('b', '2'), del('x')], { sync: true });
    await backend.batch([put('c', '3'), del('a')], { sync: false });
    await backend.batch([put('b', '2b')], { sync: false });
    assert.deepEqual(await contents(backend), { b: '2b', c: '3' }, 'reads see every write');
    const restarted = backend.crash();
    assert.deepEqual(await contents(restarted), { a: '1', b: '2' });
    await assert.rejects(backend.get(key('a')), /closed/, 'the crashed backend is gone');
  });

  it('a clean restart (reopen) keeps the unsynced writes too; the old backend is closed', async () => {
    const backend = new MemoryBackend();
    await backend.batch([put('a', '1')], { sync: true });
    await backend.batch([put('b', '2'), del('a')], { sync: false });
    const reopened = backend.reopen();
    assert.deepEqual(await contents(reopened), { b: '2' });
    await assert.rejects(backend.batch([put('c', '3')], { sync: true }), /closed/);
    assert.deepEqual(await contents(reopened.crash()), { b: '2' }, 'what a restart finds is durable');
  });

  it('a sync makes the unsynced writes before it durable too (one log, in order)', async () => {
    const backend = new MemoryBackend();
    await backend.batch([put('a', '1')], { sync: false });
    await backend.clear({ gte: key('a'), lt: key('b') });
    await backend.batch([put('b', '2')], { sync: true });
    await backend.batch([put('c', '3')], { sync: false });
    assert.deepEqual(await contents(backend.crash()), { b: '2' });
  });

  it('a write still waiting for the disk when the member crashes is lost', async () => {
    let release = (): void => {};
    const backend = new MemoryBackend({ io: () => new Promise<void>((resolve) => (release = resolve)) });
    const write = backend.batch([put('a', '1')], { sync: true });
    const restarted = backend.crash();
    release();
    await assert.rejects(write, /closed/);
    assert.deepEqual(await contents(restarted), {});
  });

  it('scans in byte order, as the rows were when the scan began', async () => {
    const backend = new MemoryBackend();
    await backend.batch([put('\xff', 'high'), put('b', '2'), put('a', '1'), put('\x80z', 'mid')], { sync: false });
    const seen: string[] = [];
    for await (const [k] of backend.scan({ gte: key('a') })) {
      seen.push(k.toString('latin1'));
      await backend.batch([put('aa', 'late'), del('\xff')], { sync: false });
    }
    assert.deepEqual(seen, ['a', 'b', '\x80z', '\xff']);
    assert.deepEqual(Object.keys(await contents(backend)), ['a', 'aa', 'b', '\x80z']);
  });

  it('keeps its own copy of what it is given and what it returns', async () => {
    const backend = new MemoryBackend();
    const value = Buffer.from('v');
    await backend.batch([{ type: 'put', key: key('k'), value }], { sync: true });
    value[0] = 0x77;
    (await backend.get(key('k')))![0] = 0x78;
    assert.equal((await backend.get(key('k')))!.toString(), 'v');
  });

  it('a failed sync rejects its batch, which takes no effect, and every later write until a restart', async () => {
    const backend = new MemoryBackend();
    await backend.batch([put('a', '1')], { sync: true });
    await backend.batch([put('b', '2')], { sync: false });
    backend.failSyncs();
    await assert.rejects(backend.batch([put('c', '3')], { sync: true }), (error: NodeJS.ErrnoException) => error.code === 'EIO');
    assert.equal(await backend.get(key('c')), undefined, 'the failed batch is not applied');
    await assert.rejects(backend.batch([put('d', '4')], { sync: false }), /EIO/, 'broken, as LevelDB after a failed sync');
    await assert.rejects(backend.batch([put('d', '4')], { sync: true }), /EIO/);
    const restarted = backend.crash();
    assert.deepEqual(await contents(restarted), { a: '1' }, 'nothing after the last good sync survives');
    await restarted.batch([put('e', '5')], { sync: true });
    assert.deepEqual(await contents(restarted), { a: '1', e: '5' });
  });

  it('a full disk refuses a batch that needs more room than is left (ENOSPC), taking none of it, until room is freed', async () => {
    const backend = new MemoryBackend();
    backend.diskFull(10);
    await backend.batch([put('k1', '123456')], { sync: true }); // 8 bytes
    await assert.rejects(backend.batch([put('k2', '1'), put('k3', '2')], { sync: true }), (error: NodeJS.ErrnoException) => error.code === 'ENOSPC');
    assert.equal(await backend.get(key('k2')), undefined, 'all or nothing');
    await backend.batch([del('k1')], { sync: false }); // 2 bytes: a delete is a write too
    await assert.rejects(backend.batch([put('k', '')], { sync: false }), /ENOSPC/);
    const restarted = backend.crash();
    await assert.rejects(restarted.batch([put('k', '')], { sync: false }), /ENOSPC/, 'the disk is still full after a restart');
    restarted.diskFull(Infinity);
    await restarted.batch([put('k', 'v')], { sync: true });
    assert.deepEqual(await contents(restarted), { k: 'v', k1: '123456' });
  });
});

describe('DiskStorage on a MemoryBackend', () => {
  it('opens a new backend empty and, after a crash, holds exactly what was synced', async () => {
    const backend = new MemoryBackend();
    const storage = await DiskStorage.openOn(backend, 'mem:a');
    assert.deepEqual([storage.firstIndex(), storage.lastIndex()], [1, 0]);
    await storage.persist({ entries: [entry(1), entry(2)], hardState: { term: 1, vote: 1, commit: 1 }, membership: { name: 'a' }, sync: true });
    await storage.persist({ entries: [entry(3)], hardState: { term: 1, vote: 1, commit: 2 }, sync: false });
    assert.equal(storage.lastIndex(), 3);
    const restarted = await DiskStorage.openOn(backend.crash(), 'mem:a');
    assert.equal(restarted.lastIndex(), 2);
    assert.deepEqual(restarted.initialState().hardState, { term: 1, vote: 1, commit: 1 });
    assert.deepEqual(restarted.membership, { name: 'a' });
    await restarted.close();
  });

  it('an fsync error fails the persist and every later one (StorageFailedError naming the label)', async () => {
    const backend = new MemoryBackend();
    const storage = await DiskStorage.openOn(backend, 'mem:b');
    await storage.persist({ entries: [entry(1)], hardState: { term: 1, vote: 1, commit: 0 }, sync: true });
    backend.failSyncs();
    await assert.rejects(storage.persist({ entries: [entry(2)], sync: true }), (error: unknown) => error instanceof StorageFailedError && /^data dir mem:b: cannot persist \(EIO/.test(error.message));
    await assert.rejects(storage.persist({ entries: [], hardState: { term: 2, vote: 0, commit: 0 }, sync: false }), StorageFailedError);
    assert.equal(storage.lastIndex(), 1, 'the failed entries were not taken into the log');
    const restarted = await DiskStorage.openOn(backend.crash(), 'mem:b');
    assert.equal(restarted.lastIndex(), 1);
    await restarted.close();
  });

  it('a full disk fails the persist with ENOSPC in the message', async () => {
    const backend = new MemoryBackend();
    const storage = await DiskStorage.openOn(backend, 'mem:c');
    backend.diskFull(100);
    await assert.rejects(storage.persist({ entries: Array.from({ length: 20 }, (_, i) => entry(i + 1)), hardState: { term: 1, vote: 1, commit: 0 }, sync: true }), /ENOSPC/);
    assert.equal(storage.lastIndex(), 0);
  });
});
