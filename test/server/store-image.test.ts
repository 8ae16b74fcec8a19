import assert from 'node:assert/strict';
import { decodeImage, encodeImage } from '../../src/storage/image.ts';
import type { ImageRecord } from '../../src/storage/image.ts';
import { captureChanges, captureFull, encodeCaptured, restoreImage } from '../../src/server/store-image.ts';
import { PERMANENT } from '../../src/store/node.ts';
import { nodeRecord } from '../../src/store/snapshot.ts';
import { Store, expireTimeFor } from '../../src/store/store.ts';

const T0 = Date.UTC(2026, 10, 24, 6, 0, 0);
const permanent = { expireTime: PERMANENT };
const imageOf = (store: Store) => new Map([...store.nodes()].map(([path, node]) => [path, nodeRecord(path, node)]));

describe('store image: what a member snapshot holds', () => {
  it('a full capture walks in slices while writes go on, and is the state at its end', async () => {
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
    let index = -1;
    const { captured, index: at } = await captureFull(store, () => {
      clearInterval(writer);
      index = store.index;
      return { state: { membership: { m: 1 }, appliedIds: new Map([['id', 1]]), store }, index: store.index };
    });
    assert.ok(turns >= 3, `the walk yielded to the event loop (${turns} writer turns)`);
    assert.equal(at, index);
    assert.deepEqual(new Map(captured.nodes.map((n) => [n.path, n])), imageOf(store));
    // Restored (through the wire format), it lists the same as the store, order included.
    const update = await encodeCaptured(captured);
    assert.equal(update.kind, 'full');
    if (update.kind !== 'full') return;
    const wire = decodeImage(encodeImage(update.image.head, update.image.records));
    const restored = await restoreImage<{ m: number }>(wire.head, [wire.records]);
    assert.deepEqual(restored.membership, { m: 1 });
    assert.deepEqual([...restored.appliedIds], [['id', 1]]);
    assert.deepEqual(restored.store.get('/', true, false, T0), store.get('/', true, false, T0));
    assert.equal(restored.store.index, store.index);
  });

  it('changes after a full capture: only what was written and removed since', async () => {
    const store = new Store();
    store.trackChanges();
    store.set('/a/x', false, '1', permanent, T0);
    store.set('/b', false, '2', permanent, T0);
    await captureFull(store, () => ({ state: { membership: {}, appliedIds: new Map(), store }, index: store.index }));
    store.set('/a/y', false, '3', permanent, T0);
    store.delete('/b', false, false, T0);
    const changes = captureChanges({ membership: {}, appliedIds: new Map(), store });
    assert.deepEqual(changes.nodes.map((n) => n.path), ['/a/y']);
    assert.deepEqual(changes.removed, ['/b']);
    const update = await encodeCaptured(changes);
    assert.equal(update.kind, 'changes');
    if (update.kind === 'changes') assert.deepEqual(update.puts.map(([key]: ImageRecord) => Buffer.from(key).toString()), ['/a/y']);
  });
});
