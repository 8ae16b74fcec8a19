import assert from 'node:assert/strict';
import { PERMANENT } from '../../src/store/node.ts';
import type { NodeRecord } from '../../src/store/node-record.ts';
import { nodeRecord } from '../../src/store/node-record.ts';
import type { SnapshotRead } from '../../src/store/snapshot-read.ts';
import { Store, expireTimeFor } from '../../src/store/store.ts';

const T0 = Date.UTC(2026, 10, 30, 7, 0, 0);
const permanent = { expireTime: PERMANENT };

/** Every record of a read, `count` at a time, with `between` run after each slice but the last. */
function drain(read: SnapshotRead, count: number, between: (slice: number) => void = () => {}): NodeRecord[] {
  const out: NodeRecord[] = [];
  for (let slice = 0; ; slice++) {
    out.push(...read.next(count));
    if (read.done) break;
    between(slice);
  }
  read.close();
  return out;
}

function treeStore(): Store {
  const store = new Store();
  store.set('/a/b/c', false, 'deep', permanent, T0);
  store.set('/a/_hidden', false, 'h', permanent, T0);
  store.set('/a/_hdir/x', false, 'hx', permanent, T0);
  store.set('/a/empty', true, '', permanent, T0);
  store.set('/a/ttl', false, 'soon', { expireTime: expireTimeFor(30, T0) }, T0);
  store.set('/a/ttldir', true, '', { expireTime: expireTimeFor(5, T0) }, T0);
  store.set('/gone/soon', false, 'x', { expireTime: T0 + 1000 }, T0);
  for (let i = 0; i < 20; i++) store.set(`/flat/k${i}`, false, `v${i}`, permanent, T0);
  store.create('/queue', false, 'first', true, permanent, T0);
  store.set('/top', false, '', permanent, T0);
  return store;
}

/** The store's nodes as a snapshot read must produce them, taken without one. */
function recordsNow(store: Store): NodeRecord[] {
  return [...store.nodes()].map(([path, node]) => nodeRecord(path, node));
}

describe('Store.snapshotRead: every node as it was when the read began', () => {
  it('produces every node, hidden ones and TTLs too, each directory before its children', () => {
    const store = treeStore();
    const records = drain(store.snapshotRead(), 3);
    assert.deepEqual(records, recordsNow(store));
    const paths = records.map((r) => r.path);
    for (const record of records) {
      const parent = record.path.slice(0, record.path.lastIndexOf('/'));
      if (parent !== '') assert.ok(paths.indexOf(parent) < paths.indexOf(record.path), `${parent} before ${record.path}`);
    }
    assert.ok(paths.includes('/a/_hidden') && paths.includes('/a/_hdir/x'));
  });

  it('is not changed by writes made while it is being read (sets, updates, deletes, TTLs, expiry)', () => {
    const store = treeStore();
    const expected = recordsNow(store);
    const read = store.snapshotRead();
    assert.equal(read.index, store.index);
    const writes = [
      () => store.set('/a/b/c', false, 'replaced', permanent, T0),
      () => store.delete('/a', true, true, T0),
      () => store.set('/new/dir/key', false, 'new', permanent, T0),
      () => store.update('/flat/k19', 'changed', { expireTime: expireTimeFor(60, T0) }, T0),
      () => store.compareAndSwap('/top', '', 0, 'swapped', permanent, T0),
      () => store.delete('/flat/k18', false, false, T0),
      () => store.deleteExpiredKeys(T0 + 2000),
      () => store.set('/flat/k0', false, 'again', permanent, T0),
      () => store.create('/queue', false, 'second', true, permanent, T0),
      () => store.set('/flat/k5', true, '', permanent, T0),
    ];
    const records = drain(read, 2, (slice) => {
      try {
        writes[slice]?.();
      } catch {
        // (setting a file to a directory is refused: nothing changed)
      }
    });
    assert.deepEqual(records, expected);
    assert.notDeepEqual(recordsNow(store), expected, 'the writes changed the store');
  });

});
