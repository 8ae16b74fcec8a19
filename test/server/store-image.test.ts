import assert from 'node:assert/strict';
import type { BaseWriter } from '../../src/storage/disk-storage.ts';
import { decodeImage, encodeImage } from '../../src/storage/image.ts';
import type { ImageChanges, ImageRecord } from '../../src/storage/image.ts';
import { AuthState } from '../../src/server/auth-state.ts';
import { captureChanges, encodeChanges, restoreImage, writeBase } from '../../src/server/store-image.ts';
import { PERMANENT } from '../../src/store/node.ts';
import { nodeRecord } from '../../src/store/node-record.ts';
import { Store, expireTimeFor } from '../../src/store/store.ts';

const T0 = Date.UTC(2026, 10, 24, 6, 0, 0);
const permanent = { expireTime: PERMANENT };
const conf = { voters: [1], learners: [] };

/** A base writer that keeps what it is given: the records, and the delta and index of `save`. */
function keptBase() {
  const kept = { records: [] as ImageRecord[], delta: undefined as ImageChanges | undefined, index: -1 };
  const base: BaseWriter = {
    add: async (records) => void kept.records.push(...records),
    seal: () => Promise.reject(new Error('unused')),
    save: async (index, _conf, delta) => {
      kept.index = index;
      kept.delta = delta;
    },
  };
  return { base, kept };
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
const imageOf = (store: Store) => new Map([...store.nodes()].map(([path, node]) => [path, nodeRecord(path, node)]));

describe('store image: what a member snapshot holds', () => {
  it('a new base is walked in slices while writes go on; with the delta of those writes it is the state at its end', async () => {
    const store = new Store();
    store.trackChanges();
    for (let i = 0; i < 20_000; i++) store.set(`/d${i % 7}/k${i}`, false, `v${i}`, permanent, T0);
    // Writes between the walk's slices: overwrites, a recursive delete, a directory made again, TTLs.
    let turns = 0;
    const writer = setInterval(() => {
      turns++;
      store.set(`/d1/k${turns * 7 + 1}`, false, `new${turns}`, permanent, T0);
      store.set(`/fresh/t${turns}`, false, 'x', { expireTime: expireTimeFor(60, T0) }, T0);
      if (turns === 2) store.delete('/d3', true, true, T0);
      if (turns === 3) store.set('/d3/again', false, 'back', permanent, T0);
    }, 0);
    const auth = new AuthState();
    auth.apply({ op: 'putUser', change: { user: 'root', password: 'scrypt$hash', roles: null, grant: null, revoke: null } });
    auth.apply({ op: 'enable' });
    const { base, kept } = keptBase();
    const written = await writeBase(store, base, () => {
      clearInterval(writer);
      return { state: { membership: { m: 1 }, appliedIds: new Map([['id', 1]]), store, auth }, index: store.index, confState: conf };
    });
    assert.ok(turns >= 3, `the walk yielded to the event loop (${turns} writer turns)`);
    assert.equal(written.index, store.index);
    assert.equal(kept.index, store.index);
    // The base with the delta applied (as the storage merges them) is the store now.
    const merged = new Map(kept.records.map(([key, value]) => [text(key), value]));
    for (const key of kept.delta!.removed) merged.delete(text(key));
    for (const [key, value] of kept.delta!.puts) merged.set(text(key), value);
    const ordered = [...merged].sort(([a], [b]) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
    const wire = decodeImage(encodeImage(kept.delta!.head, ordered.map(([key, value]): ImageRecord => [Buffer.from(key), value])));
    const restored = await restoreImage<{ m: number }>(wire.head, [wire.records]);
    assert.deepEqual(restored.membership, { m: 1 });
    assert.deepEqual([...restored.appliedIds], [['id', 1]]);
    assert.deepEqual(restored.store.get('/', true, false, T0), store.get('/', true, false, T0), 'same nodes, same order');
    assert.deepEqual(imageOf(restored.store), imageOf(store));
    assert.equal(restored.store.index, store.index);
    assert.deepEqual(restored.auth.toImage(), auth.toImage(), 'users, roles and the auth switch travel in the head');
    assert.equal(restored.auth.enabled, true);
  });

  it('changes after a base: only what was written and removed since', async () => {
    const store = new Store();
    store.trackChanges();
    store.set('/a/x', false, '1', permanent, T0);
    store.set('/b', false, '2', permanent, T0);
    await writeBase(store, keptBase().base, () => ({ state: { membership: {}, appliedIds: new Map(), store, auth: new AuthState() }, index: store.index, confState: conf }));
    store.set('/a/y', false, '3', permanent, T0);
    store.delete('/b', false, false, T0);
    const changes = captureChanges({ membership: {}, appliedIds: new Map(), store, auth: new AuthState() });
    assert.deepEqual(changes.nodes.map((n) => n.path), ['/a/y']);
    assert.deepEqual(changes.removed, ['/b']);
    const encoded = await encodeChanges(changes);
    assert.deepEqual(encoded.puts.map(([key]) => text(key)), ['/a/y']);
    assert.deepEqual(encoded.removed.map(text), ['/b']);
  });
});
