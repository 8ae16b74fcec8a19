import assert from 'node:assert/strict';
import type { Entry } from '../../src/raft/types.ts';
import { checkMembership } from '../../src/server/member-fsm.ts';
import { restoreImage, upgradeBlob } from '../../src/server/store-image.ts';
import { decodeJson, encodeJson, openRecord, readU64, record } from '../../src/storage/codec.ts';
import type { OpenOptions } from '../../src/storage/disk-storage.ts';
import { DiskStorage } from '../../src/storage/disk-storage.ts';
import { DataDirError } from '../../src/storage/errors.ts';
import { ENTRY_PREFIX, encodeLogRow, entryKey } from '../../src/storage/log-store.ts';
import { MemoryBackend } from '../../src/storage/memory-backend.ts';
import { encodeEntry, KEY_VERSION } from '../../src/storage/migration.ts';
import { KEY_SNAPSHOT_META } from '../../src/storage/snapshot-layout.ts';
import { encodeHardState, KEY_HARD_STATE } from '../../src/storage/stable-store.ts';
import type { WriteOp } from '../../src/storage/write-queue.ts';
import { PERMANENT } from '../../src/store/node.ts';
import { snapshotChunks } from '../../src/store/snapshot.ts';
import { Store, expireTimeFor } from '../../src/store/store.ts';

const entry = (index: number, term = 1): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(`e${index}`) });
const conf = { voters: [1], learners: [] };

/** A version 1 or 2 data dir: one entry per row, from `from` to `to`, with a hard state unless told. */
async function entryPerRow(backend: MemoryBackend, version: number, from: number, to: number, extra: WriteOp[] = [], hardState = true): Promise<void> {
  const ops: WriteOp[] = [{ type: 'put', key: KEY_VERSION, value: encodeJson(version) }, ...extra];
  if (hardState) ops.push({ type: 'put', key: KEY_HARD_STATE, value: encodeHardState({ term: 1, vote: 1, commit: to }) });
  for (let i = from; i <= to; i++) ops.push({ type: 'put', key: entryKey(i), value: encodeEntry(entry(i)) });
  await backend.batch(ops, { sync: true });
}

const version2 = (backend: MemoryBackend, from: number, to: number, extra: WriteOp[] = [], hardState = true) => entryPerRow(backend, 2, from, to, extra, hardState);

/**
 * Opens a dir that `prepare` wrote on a disk that holds the upgrade's first write, crashes there,
 * and gives what a restart finds (and the rows before the upgrade began).
 */
async function crashMidUpgrade(prepare: (backend: MemoryBackend) => Promise<unknown>, open: (backend: MemoryBackend) => Promise<unknown>): Promise<{ before: string[]; restarted: MemoryBackend }> {
  let blocking = false;
  let release = (): void => {};
  let reachedDisk = (): void => {};
  const upgradeWaits = new Promise<void>((resolve) => (reachedDisk = resolve));
  const io = () => (blocking ? new Promise<void>((resolve) => ((release = resolve), reachedDisk())) : Promise.resolve());
  const backend = new MemoryBackend({ io });
  await prepare(backend);
  const before = await rowsOf(backend);
  blocking = true;
  const opening = open(backend);
  await upgradeWaits;
  const restarted = backend.crash();
  blocking = false;
  release();
  await assert.rejects(opening);
  return { before, restarted };
}

const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);
const membership = { clusterId: 7, members: [{ id: 1, name: 'a', peerURLs: ['http://127.0.0.1:2380'], clientURLs: ['http://127.0.0.1:2379'] }], selfId: 1 };

/** A member's store as kvd 0.1 kept it: files, directories, a TTL, a history. */
function sampleStore(): Store {
  const store = new Store();
  store.set('/a/b/c', false, 'v1', { expireTime: PERMANENT }, T0);
  store.set('/a/ttl', false, 'short', { expireTime: expireTimeFor(60, T0) }, T0);
  store.set('/dir', true, '', { expireTime: PERMANENT }, T0);
  store.set('/ключ', false, '値\n', { expireTime: PERMANENT }, T0);
  store.update('/a/b/c', 'v2', { expireTime: PERMANENT }, T0);
  return store;
}

/** kvd 0.1's snapshot blob: the membership, the applied request ids, then the store's chunks, a line each. */
function blobOf(store: Store, members: unknown = membership, chunks: string[] = [...snapshotChunks(store, 2)]): Buffer {
  return Buffer.from([JSON.stringify(members), JSON.stringify([['req-1', 2]]), ...chunks].join('\n'), 'utf8');
}

/** The key of a version 1 snapshot chunk: "s", u8 slot (none in dirs from before slots), u32be chunk number. */
const chunkKey = (chunk: number, slot: number | undefined): Buffer => Buffer.from([0x73, ...(slot === undefined ? [] : [slot]), 0, 0, 0, chunk]);

/** The rows of a version 1 snapshot at index 3: its metadata, and `blob` in chunks of 100 bytes. */
function blobRows(blob: Buffer, slot?: number): WriteOp[] {
  const ops: WriteOp[] = [];
  for (let at = 0; at < blob.length; at += 100) ops.push({ type: 'put', key: chunkKey(ops.length, slot), value: record(blob.subarray(at, at + 100)) });
  ops.push({ type: 'put', key: KEY_SNAPSHOT_META, value: encodeJson({ index: 3, term: 1, confState: conf, chunks: ops.length, size: blob.length, ...(slot === undefined ? {} : { slot }) }) });
  return ops;
}

/** A version 1 data dir (kvd 0.1): entries 1 to 5 one per row, the snapshot at 3 the blob of `store`. */
const version1 = (backend: MemoryBackend, blob = blobOf(sampleStore()), slot?: number) => entryPerRow(backend, 1, 1, 5, blobRows(blob, slot));

/** How kvd serve opens a data dir: with the server's converter of version 1 snapshots. */
const SERVE: OpenOptions = { upgradeBlob: (blob) => upgradeBlob(blob, checkMembership) };

/** Every row of the backend, byte for byte. */
async function rowsOf(backend: MemoryBackend): Promise<string[]> {
  const rows: string[] = [];
  for await (const [key, value] of backend.scan({})) rows.push(`${key.toString('hex')}=${value.toString('hex')}`);
  return rows;
}

/** The backend's keys, named: "v", "e1" (the log row from entry 1), "r0:b0" (slot 0, base page 0), "s:0000000001" (a chunk). */
async function keysOf(backend: MemoryBackend): Promise<string[]> {
  const keys: string[] = [];
  for await (const [key] of backend.scan({})) {
    const kind = String.fromCharCode(key[0]!);
    if (kind === 'e') keys.push(`e${readU64(key, 1)}`);
    else if (kind === 'r') keys.push(`r${key[1]}:${String.fromCharCode(key[2]!)}${key.length === 7 ? key.readUInt32BE(3) : ''}`);
    else if (kind === 's') keys.push(`s:${key.subarray(1).toString('hex')}`);
    else keys.push(kind);
  }
  return keys;
}

/** The state in the storage's snapshot, as a member restores it. */
async function restored(storage: DiskStorage): Promise<{ membership: unknown; ids: unknown; tree: unknown; index: number }> {
  const snapshot = await storage.loadSnapshot();
  if (snapshot.kind !== 'image') assert.fail(`the snapshot is ${snapshot.kind}, not an image`);
  const state = await restoreImage(snapshot.head, snapshot.records);
  return { membership: state.membership, ids: [...state.appliedIds], tree: state.store.get('/', true, true, T0), index: state.store.index };
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

  const unchanged = async (backend: MemoryBackend, pattern: RegExp, options: OpenOptions = {}) => {
    const before = await rowsOf(backend);
    const batches = backend.batches;
    await assert.rejects(DiskStorage.openOn(backend, 'mem', options), (error: unknown) => error instanceof DataDirError && pattern.test(error.message));
    assert.equal(backend.batches, batches, 'nothing was written');
    assert.deepEqual(await rowsOf(backend.reopen()), before, 'the data dir was left as it was');
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
    const { restarted } = await crashMidUpgrade((backend) => version2(backend, 1, 4), (backend) => DiskStorage.openOn(backend, 'mem'));
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

  for (const slot of [undefined, 0]) {
    it(`upgrades a version 1 data dir (kvd 0.1, chunk keys ${slot === undefined ? 'without' : 'with'} a slot): the log in one row, the snapshot blob an image of the same state, in one synced batch`, async () => {
      let backend = new MemoryBackend();
      await version1(backend, blobOf(sampleStore()), slot);
      const storage = await DiskStorage.openOn(backend, 'mem', SERVE);
      assert.equal(backend.batches, 2, 'the old dir, then the upgrade');
      assert.deepEqual(storage.snapshot().meta, { index: 3, term: 1, confState: conf });
      assert.deepEqual(storage.entries(4, 6, Infinity), [entry(4), entry(5)]);
      assert.equal(storage.takesImageChanges, true, 'the next snapshot is a delta over this image');
      const store = sampleStore();
      const expected = { membership, ids: [['req-1', 2]], tree: store.get('/', true, true, T0), index: store.index };
      assert.deepEqual(await restored(storage), expected);
      await storage.close();
      backend = backend.crash();
      assert.deepEqual(await keysOf(backend), ['e1', 'h', 'm', 'r0:b0', 'r0:h', 'v'], 'durable at once; the chunks are gone');
      assert.deepEqual(await layout(backend), { version: 3, rows: [1] });
      const reopened = await DiskStorage.openOn(backend, 'mem');
      assert.equal(backend.batches, 0, 'a current dir: opened without a converter, nothing written');
      assert.deepEqual(await restored(reopened), expected);
      await reopened.close();
    });
  }

  it('upgrades a version 3 data dir that still holds a version 1 snapshot (kvd 0.3 saved it again only once the member started)', async () => {
    let backend = new MemoryBackend();
    const log = [1, 2, 3, 4, 5].map((i) => entry(i));
    await backend.batch([
      { type: 'put', key: KEY_VERSION, value: encodeJson(3) },
      { type: 'put', key: KEY_HARD_STATE, value: encodeHardState({ term: 1, vote: 1, commit: 5 }) },
      { type: 'put', key: entryKey(1), value: encodeLogRow(log) },
      ...blobRows(blobOf(sampleStore()), 1),
    ], { sync: true });
    const storage = await DiskStorage.openOn(backend, 'mem', SERVE);
    assert.deepEqual((await restored(storage)).tree, sampleStore().get('/', true, true, T0));
    await storage.close();
    backend = backend.crash();
    assert.deepEqual(await keysOf(backend), ['e1', 'h', 'm', 'r0:b0', 'r0:h', 'v']);
  });

  it('a crash during the blob\'s upgrade leaves the version 1 data dir, which upgrades on the next start', async () => {
    const { before, restarted } = await crashMidUpgrade(version1, (backend) => DiskStorage.openOn(backend, 'mem', SERVE));
    assert.deepEqual(await rowsOf(restarted), before, 'byte for byte the version 1 dir');
    const storage = await DiskStorage.openOn(restarted, 'mem', SERVE);
    assert.deepEqual((await restored(storage)).tree, sampleStore().get('/', true, true, T0));
    await storage.close();
    assert.deepEqual(await keysOf(restarted.crash()), ['e1', 'h', 'm', 'r0:b0', 'r0:h', 'v']);
  });

  it('a failed sync during the blob\'s upgrade is refused naming the cause, leaving the version 1 data dir', async () => {
    const backend = new MemoryBackend();
    await version1(backend);
    const before = await rowsOf(backend);
    backend.failSyncs();
    await assert.rejects(DiskStorage.openOn(backend, 'mem', SERVE), /data dir mem: cannot be upgraded from format version 1 to 3 \(EIO.*it was left as it was/);
    assert.deepEqual(await rowsOf(backend.crash()), before);
  });

  describe('refuses, unchanged, a version 1 snapshot that cannot be upgraded', () => {
    it('a chunk that fails its checksum', async () => {
      const backend = new MemoryBackend();
      await version1(backend);
      const damaged = Buffer.from((await backend.get(chunkKey(1, undefined)))!);
      damaged[10]! ^= 1;
      await backend.batch([{ type: 'put', key: chunkKey(1, undefined), value: damaged }], { sync: true });
      await unchanged(backend, /the snapshot chunk 1 record fails its checksum/, SERVE);
    });

    it('a missing chunk', async () => {
      const backend = new MemoryBackend();
      await version1(backend);
      await backend.batch([{ type: 'del', key: chunkKey(2, undefined) }], { sync: true });
      await unchanged(backend, /snapshot chunk 2 of \d+ is missing/, SERVE);
    });

    it('a blob whose store does not decode', async () => {
      const backend = new MemoryBackend();
      await version1(backend, blobOf(sampleStore(), membership, ['{"format":"kvd-store","version":1,"index":5,"historyCapacity":1000}', 'not json']));
      await unchanged(backend, /data dir mem: its version 1 snapshot cannot be upgraded \(store snapshot: a chunk is not valid JSON\); it was left as it was/, SERVE);
    });

    it('a blob whose membership is malformed', async () => {
      const backend = new MemoryBackend();
      await version1(backend, blobOf(sampleStore(), { members: 'a' }));
      await unchanged(backend, /its version 1 snapshot cannot be upgraded \(snapshot: the membership is malformed\)/, SERVE);
    });

    it('no converter: only kvd serve can read what the blob holds', async () => {
      const backend = new MemoryBackend();
      await version1(backend);
      await unchanged(backend, /holds a version 1 snapshot \(kvd 0\.1\), which only kvd serve upgrades; it was left as it was/);
    });
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
