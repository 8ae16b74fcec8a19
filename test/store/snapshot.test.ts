import assert from 'node:assert/strict';
import { PERMANENT } from '../../src/store/node.ts';
import { seededRandom } from '../../src/raft/rand.ts';
import type { NodeRecord } from '../../src/store/node-record.ts';
import { nodeRecord } from '../../src/store/node-record.ts';
import { restoreSnapshot, restoreStore, snapshotChunks, storeHeader } from '../../src/store/snapshot.ts';
import { Store, expireTimeFor } from '../../src/store/store.ts';
import { StoreError } from '../../src/store/store-error.ts';

const T0 = Date.UTC(2026, 10, 24, 6, 0, 0);
const permanent = { expireTime: PERMANENT };

function sampleStore(): Store {
  const store = new Store();
  store.set('/a/b/c', false, 'v1', permanent, T0);
  store.set('/a/ttl', false, 'short', { expireTime: expireTimeFor(5, T0) }, T0);
  store.set('/dir', true, '', { expireTime: expireTimeFor(60, T0) }, T0);
  store.set('/_hidden/x', false, 'h', permanent, T0);
  store.create('/q', false, 'job', true, permanent, T0);
  store.set('/ключ', false, '値\n\u0000', permanent, T0);
  store.update('/a/b/c', 'v2', permanent, T0);
  store.set('/a/ttl', false, '', { expireTime: expireTimeFor(9, T0), refresh: true }, T0);
  store.delete('/_hidden', true, true, T0);
  return store;
}

describe('store: snapshot and restore', () => {
  it('round-trips the tree, indexes, TTL deadlines and event history', () => {
    const store = sampleStore();
    const restored = restoreSnapshot(snapshotChunks(store, 2));
    assert.equal(restored.index, store.index);
    assert.deepEqual(restored.get('/', true, true, T0), store.get('/', true, true, T0));
    assert.deepEqual([...restored.history.entries()], [...store.history.entries()]);
    assert.equal(restored.nextExpireTime(), store.nextExpireTime());
    // The restored store goes on numbering and expiring as the original would.
    assert.deepEqual(restored.deleteExpiredKeys(T0 + 60_000), store.deleteExpiredKeys(T0 + 60_000));
    assert.deepEqual(restored.set('/z', false, 'z', permanent, T0), store.set('/z', false, 'z', permanent, T0));
    assert.deepEqual(
      restored.watch('/a', true, false, 1, () => undefined).events,
      store.watch('/a', true, false, 1, () => undefined).events,
    );
  });

  it('is written in chunks of at most the given number of records', () => {
    const store = new Store();
    for (let i = 0; i < 25; i++) store.set(`/k${i}`, false, 'v', permanent, T0);
    const chunks = [...snapshotChunks(store, 10)];
    // header, 3 node chunks (10+10+5), 3 history chunks (10+10+5)
    assert.equal(chunks.length, 7);
  });

  it('an empty store round-trips', () => {
    const restored = restoreSnapshot(snapshotChunks(new Store()));
    assert.deepEqual(restored.get('/', true, false, T0), { action: 'get', node: { dir: true } });
    assert.equal(restored.index, 0);
  });

  it('refuses an unknown format version, a foreign document, a broken chunk, an orphan node', () => {
    const chunks = [...snapshotChunks(sampleStore())];
    const header = JSON.parse(chunks[0]!);
    assert.throws(() => restoreSnapshot([JSON.stringify({ ...header, version: 99 }), ...chunks.slice(1)]), /format version 99 is not supported/);
    assert.throws(() => restoreSnapshot(['{"hello":1}']), /not a kvd store snapshot/);
    assert.throws(() => restoreSnapshot([chunks[0]!, '{"nodes":[']), /not valid JSON/);
    assert.throws(() => restoreSnapshot([chunks[0]!, '{"nodes":[["/x/y",1,1,0,"v"]]}']), /\/x\/y comes before its directory/);
    assert.throws(() => restoreSnapshot([]), /empty/);
  });

  it('refuses fields no store writes (a peer\'s snapshot that restored with an expiry of 1e16 made every later view of the key throw, on apply too)', () => {
    const chunks = [...snapshotChunks(sampleStore())];
    const header = JSON.parse(chunks[0]!);
    for (const record of ['["/x",1,1,1e16,"v"]', '["/x",1,1,-1,"v"]', '["/x",1.5,1,0,"v"]', '["/x",1,-1,0,"v"]', '["/x",1,1,0,7]', '[5,1,1,0,"v"]', '["x",1,1,0,"v"]']) {
      assert.throws(() => restoreSnapshot([chunks[0]!, `{"nodes":[${record}]}`]), /store snapshot: .*malformed/, record);
    }
    assert.throws(() => restoreSnapshot([JSON.stringify({ ...header, index: 'x' }), ...chunks.slice(1)]), /store snapshot: the header is malformed/);
    assert.throws(() => restoreSnapshot([JSON.stringify({ ...header, historyCapacity: -1 }), ...chunks.slice(1)]), /store snapshot: the header is malformed/);
    assert.equal(restoreSnapshot([chunks[0]!, '{"nodes":[["/x",1,1,8640000000000000,"v"]]}']).find('/x')?.value, 'v');
  });

  /** Random writes of every kind over a small key space, so that paths are reused and replaced. */
  function randomWrite(store: Store, random: () => number, now: number): void {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const key = `/${pick(['a', 'b', 'a/x', 'a/y', 'b/x/z', 'q', 'a-b', '_h'])}${pick(['', '/k1', '/k2'])}`;
    const ttl = random() < 0.2 ? { expireTime: expireTimeFor(1 + Math.floor(random() * 3), now) } : permanent;
    const value = `v${Math.floor(random() * 1000)}`;
    try {
      switch (pick(['set', 'set', 'dir', 'create', 'inorder', 'update', 'cas', 'delete', 'rmdir', 'cad', 'refresh'] as const)) {
        case 'set': store.set(key, false, value, ttl, now); break;
        case 'dir': store.set(key, true, '', ttl, now); break;
        case 'create': store.create(key, false, value, false, ttl, now); break;
        case 'inorder': store.create(key, false, value, true, ttl, now); break;
        case 'update': store.update(key, value, ttl, now); break;
        case 'cas': store.compareAndSwap(key, '', store.index, value, ttl, now); break;
        case 'delete': store.delete(key, false, false, now); break;
        case 'rmdir': store.delete(key, true, true, now); break;
        case 'cad': store.compareAndDelete(key, '', 0, now); break;
        case 'refresh': store.set(key, false, '', { expireTime: expireTimeFor(5, now), refresh: true }, now); break;
      }
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
    }
  }

  const imageOf = (store: Store) => new Map([...store.nodes()].map(([path, node]) => [path, nodeRecord(path, node)]));

  it('takeChanges: the last image with the changes applied is the image of the store (200 seeds)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = seededRandom(seed);
      const store = new Store();
      store.trackChanges();
      const image = new Map<string, NodeRecord>();
      let now = T0;
      for (let round = 0; round < 8; round++) {
        for (let i = 0; i < 30; i++) {
          randomWrite(store, random, now);
          if (random() < 0.1) {
            now += 1500;
            store.deleteExpiredKeys(now);
          }
        }
        const { written, removed } = store.takeChanges();
        for (const path of removed) image.delete(path);
        for (const [path, node] of written) image.set(path, nodeRecord(path, node));
        assert.deepEqual(image, imageOf(store), `seed ${seed}, round ${round}`);
        // Restored from the image in path order, the store lists its children in the same order.
        const paths = [...image.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        const restored = restoreStore(storeHeader(store), paths.map((p) => image.get(p)!));
        assert.deepEqual(restored.get('/', true, false, now), store.get('/', true, false, now), `seed ${seed}, round ${round}: order`);
        assert.equal(restored.nextExpireTime(), store.nextExpireTime());
      }
    }
  });

  it('takeChanges is empty when nothing was written, and untracked stores record nothing', () => {
    const store = sampleStore();
    assert.deepEqual(store.takeChanges(), { written: [], removed: [] });
    store.trackChanges();
    store.get('/a', true, true, T0);
    assert.deepEqual(store.takeChanges(), { written: [], removed: [] });
    store.set('/a/b/c', false, 'v3', permanent, T0);
    assert.deepEqual(store.takeChanges().written.map(([path]) => path), ['/a/b/c']);
  });
});

