import assert from 'node:assert/strict';
import { PERMANENT } from '../../src/store/node.ts';
import { restoreSnapshot, snapshotChunks } from '../../src/store/snapshot.ts';
import { Store, expireTimeFor } from '../../src/store/store.ts';

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
});
