import assert from 'node:assert/strict';
import type { StoreEvent } from '../../src/store/event.ts';
import { PERMANENT, formatExpiration, ttlSeconds, compareUtf8 } from '../../src/store/node.ts';
import { Store, expireTimeFor } from '../../src/store/store.ts';
import { StoreError } from '../../src/store/store-error.ts';

const T0 = Date.UTC(2026, 10, 24, 6, 0, 0);
const permanent = { expireTime: PERMANENT };
const ttl = (seconds: number, now = T0) => ({ expireTime: expireTimeFor(seconds, now) });

/** Asserts that `run` throws a StoreError with this code, cause and index. */
function throwsStore(run: () => unknown, errorCode: number, cause: string | undefined, index: number): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof StoreError, String(error));
    assert.deepEqual(
      { errorCode: error.errorCode, cause: error.errorCause, index: error.index },
      { errorCode, cause, index },
    );
    return true;
  });
}

function storeWith(...keys: Array<[string, string]>): Store {
  const store = new Store();
  for (const [key, value] of keys) store.set(key, false, value, permanent, T0);
  return store;
}

describe('store: get', () => {
  it('get of the root is a directory with no key and no indexes', () => {
    assert.deepEqual(new Store().get('/', false, false, T0), { action: 'get', node: { dir: true } });
  });

  it('get fails with 100 naming the first missing component', () => {
    const store = storeWith(['/x', '1']);
    throwsStore(() => store.get('/a/b/c', false, false, T0), 100, '/a', 1);
  });

  it('get through a file fails with 104 naming the file', () => {
    const store = storeWith(['/a', '1']);
    throwsStore(() => store.get('/a/b', false, false, T0), 104, '/a', 1);
  });

  it('a listing omits hidden children, and child directories have no nodes unless recursive', () => {
    const store = storeWith(['/d/a', '1'], ['/d/_h', 'h'], ['/d/s/x', '2'], ['/d/_hd/y', '3']);
    const flat = store.get('/d', false, true, T0).node;
    assert.deepEqual(flat.nodes, [
      { key: '/d/a', value: '1', modifiedIndex: 1, createdIndex: 1 },
      { key: '/d/s', dir: true, modifiedIndex: 3, createdIndex: 3 },
    ]);
    const deep = store.get('/d', true, true, T0).node;
    assert.deepEqual(deep.nodes?.[1], {
      key: '/d/s',
      dir: true,
      nodes: [{ key: '/d/s/x', value: '2', modifiedIndex: 3, createdIndex: 3 }],
      modifiedIndex: 3,
      createdIndex: 3,
    });
  });

  it('an empty directory, or one with only hidden children, has no nodes field', () => {
    const store = storeWith(['/only/_h', 'x']);
    store.set('/empty', true, '', permanent, T0);
    assert.equal('nodes' in store.get('/only', true, false, T0).node, false);
    assert.equal('nodes' in store.get('/empty', true, false, T0).node, false);
  });

  it('hidden keys can still be read directly', () => {
    const store = storeWith(['/_secret/k', 'v']);
    assert.equal(store.get('/_secret/k', false, false, T0).node.value, 'v');
  });

  it('sorted orders by UTF-8 bytes at every level', () => {
    const store = storeWith(['/s/b', ''], ['/s/a', ''], ['/s/\u{1F600}', ''], ['/s/\uFFFD', ''], ['/s/c/z', ''], ['/s/c/y', '']);
    const keys = store.get('/s', true, true, T0).node.nodes!.map((n) => n.key);
    assert.deepEqual(keys, ['/s/a', '/s/b', '/s/c', '/s/\uFFFD', '/s/\u{1F600}']);
    const inner = store.get('/s', true, true, T0).node.nodes![2]!.nodes!.map((n) => n.key);
    assert.deepEqual(inner, ['/s/c/y', '/s/c/z']);
  });

  it('keys are cleaned: duplicate and trailing slashes, . and ..', () => {
    const store = storeWith(['a//b/', 'v']);
    assert.equal(store.get('/a/./c/../b', false, false, T0).node.key, '/a/b');
  });

  it('unicode keys and a 1 MiB value round-trip', () => {
    const big = 'x'.repeat(1 << 20);
    const store = storeWith(['/ключ/値', big]);
    assert.equal(store.get('/ключ/値', false, false, T0).node.value, big);
  });
});

describe('store: set', () => {
  it('set creates a key and its parent directories with the new index', () => {
    const store = new Store();
    const event = store.set('/a/b/c', false, 'v', permanent, T0);
    assert.deepEqual(event, { action: 'set', node: { key: '/a/b/c', value: 'v', modifiedIndex: 1, createdIndex: 1 } });
    assert.deepEqual(store.get('/a', false, false, T0).node, {
      key: '/a', dir: true, nodes: [{ key: '/a/b', dir: true, modifiedIndex: 1, createdIndex: 1 }], modifiedIndex: 1, createdIndex: 1,
    });
    assert.equal(store.index, 1);
  });

  it('set on an existing key replaces the node: a new createdIndex and the old node as prevNode', () => {
    const store = storeWith(['/a', '1']);
    const event = store.set('/a', false, '2', permanent, T0);
    assert.deepEqual(event, {
      action: 'set',
      node: { key: '/a', value: '2', modifiedIndex: 2, createdIndex: 2 },
      prevNode: { key: '/a', value: '1', modifiedIndex: 1, createdIndex: 1 },
    });
  });

  it('set dir=true over a file makes an empty directory; over a directory fails with 102', () => {
    const store = storeWith(['/f', 'v']);
    const event = store.set('/f', true, 'ignored', permanent, T0);
    assert.deepEqual(event, {
      action: 'set',
      node: { key: '/f', dir: true, modifiedIndex: 2, createdIndex: 2 },
      prevNode: { key: '/f', value: 'v', modifiedIndex: 1, createdIndex: 1 },
    });
    throwsStore(() => store.set('/f', true, '', permanent, T0), 102, '/f', 2);
    throwsStore(() => store.set('/f', false, 'x', permanent, T0), 102, '/f', 2);
    // and back: delete the directory, set a file again
    store.delete('/f', true, false, T0);
    assert.equal(store.set('/f', false, 'again', permanent, T0).node.value, 'again');
  });

  it('set on the root fails with 107', () => {
    throwsStore(() => new Store().set('/', false, 'v', permanent, T0), 107, '/', 0);
  });

  it('set below a file fails with 104 naming the file', () => {
    const store = storeWith(['/f', 'v']);
    throwsStore(() => store.set('/f/g', false, 'v', permanent, T0), 104, '/f', 1);
  });

  it('a ttl gives expiration (RFC 3339 UTC, no trailing zeros) and ttl rounded up', () => {
    const store = new Store();
    const event = store.set('/t', false, 'v', ttl(10), T0);
    assert.equal(event.node.expiration, '2026-11-24T06:00:10Z');
    assert.equal(event.node.ttl, 10);
    assert.equal(store.get('/t', false, false, T0 + 1).node.ttl, 10);
    assert.equal(store.get('/t', false, false, T0 + 1000).node.ttl, 9);
    assert.equal(formatExpiration(T0 + 120), '2026-11-24T06:00:00.12Z');
    assert.equal(ttlSeconds(T0, T0 - 1), 1);
  });

  it('ttl=0 gives an expiration of now and no ttl field', () => {
    const event = new Store().set('/z', false, 'v', ttl(0), T0);
    assert.equal(event.node.expiration, formatExpiration(T0));
    assert.equal('ttl' in event.node, false);
  });

  it('a ttl too large for Go\'s Duration makes the key permanent', () => {
    assert.equal(expireTimeFor(9_999_999_999, T0), PERMANENT);
    assert.equal(expireTimeFor(undefined, T0), PERMANENT);
  });

  it('a write without ttl makes a TTL key permanent', () => {
    const store = new Store();
    store.set('/k', false, 'v', ttl(5), T0);
    store.set('/k', false, 'w', permanent, T0);
    assert.deepEqual(store.deleteExpiredKeys(T0 + 60_000), []);
    assert.equal(store.get('/k', false, false, T0).node.value, 'w');
  });
});

describe('store: create and in-order keys', () => {
  it('create fails with 105 when the key exists, file or directory', () => {
    const store = storeWith(['/a', '1'], ['/d/x', '2']);
    throwsStore(() => store.create('/a', false, 'v', false, permanent, T0), 105, '/a', 2);
    throwsStore(() => store.create('/d', true, '', false, permanent, T0), 105, '/d', 2);
    assert.equal(store.create('/b', false, 'v', false, permanent, T0).action, 'create');
  });

  it('in-order create names the key by the new index, zero-padded to 20 digits', () => {
    const store = storeWith(['/q/x', 'first']);
    const event = store.create('/q', false, 'job', true, permanent, T0);
    assert.deepEqual(event, { action: 'create', node: { key: '/q/00000000000000000002', value: 'job', modifiedIndex: 2, createdIndex: 2 } });
  });

  it('in-order create on the root is allowed; on a file it fails with 104', () => {
    const store = storeWith(['/f', 'v']);
    assert.equal(store.create('/', false, 'x', true, permanent, T0).node.key, '/00000000000000000002');
    throwsStore(() => store.create('/f', false, 'x', true, permanent, T0), 104, '/f', 2);
  });

  it('in-order create below a missing directory creates it', () => {
    const event = new Store().create('/new/queue', false, 'x', true, permanent, T0);
    assert.equal(event.node.key, '/new/queue/00000000000000000001');
  });
});

describe('store: update', () => {
  it('update keeps createdIndex and needs the key (100)', () => {
    const store = storeWith(['/a', '1']);
    assert.deepEqual(store.update('/a', '2', permanent, T0), {
      action: 'update',
      node: { key: '/a', value: '2', modifiedIndex: 2, createdIndex: 1 },
      prevNode: { key: '/a', value: '1', modifiedIndex: 1, createdIndex: 1 },
    });
    throwsStore(() => store.update('/missing', 'v', permanent, T0), 100, '/missing', 2);
  });

  it('update of a directory with a value fails with 102; without one it changes only its TTL', () => {
    const store = new Store();
    store.set('/d', true, '', permanent, T0);
    throwsStore(() => store.update('/d', 'x', permanent, T0), 102, '/d', 1);
    const event = store.update('/d', '', ttl(30), T0);
    assert.deepEqual(event.node, { key: '/d', dir: true, expiration: formatExpiration(T0 + 30_000), ttl: 30, modifiedIndex: 2, createdIndex: 1 });
    const later = store.get('/d', false, false, T0).node;
    assert.equal(later.modifiedIndex, 1);
    assert.equal(later.ttl, 30);
  });

  it('update with an empty value on a file (prevExist=true&dir=true) empties the file', () => {
    const store = storeWith(['/f', 'v']);
    const event = store.update('/f', '', permanent, T0);
    assert.equal(event.node.value, '');
    assert.equal(event.node.dir, undefined);
  });

  it('update on the root fails with 107', () => {
    throwsStore(() => new Store().update('/', '', permanent, T0), 107, '/', 0);
  });
});

describe('store: compare-and-swap', () => {
  const cases: Array<[string, string, number, string | null]> = [
    ['prevValue matches', 'v1', 0, null],
    ['prevIndex matches', '', 1, null],
    ['both match', 'v1', 1, null],
    ['prevValue differs', 'x', 0, '[x != v1]'],
    ['prevIndex differs', '', 7, '[7 != 1]'],
    ['both differ', 'x', 7, '[x != v1] [7 != 1]'],
    ['prevValue differs, prevIndex matches', 'x', 1, '[x != v1]'],
  ];
  for (const [name, prevValue, prevIndex, cause] of cases) {
    const outcome = cause === null ? 'succeeds' : `fails with 101 ${cause}`;
    it(`compareAndSwap ${outcome} when ${name}`, () => {
      const store = storeWith(['/k', 'v1']);
      if (cause === null) {
        const event = store.compareAndSwap('/k', prevValue, prevIndex, 'v2', permanent, T0);
        assert.deepEqual(event, {
          action: 'compareAndSwap',
          node: { key: '/k', value: 'v2', modifiedIndex: 2, createdIndex: 1 },
          prevNode: { key: '/k', value: 'v1', modifiedIndex: 1, createdIndex: 1 },
        });
      } else {
        throwsStore(() => store.compareAndSwap('/k', prevValue, prevIndex, 'v2', permanent, T0), 101, cause, 1);
      }
    });
  }

  it('compareAndSwap on a directory fails with 102, on a missing key with 100, on the root with 107', () => {
    const store = storeWith(['/d/x', '1']);
    throwsStore(() => store.compareAndSwap('/d', 'a', 0, 'b', permanent, T0), 102, '/d', 1);
    throwsStore(() => store.compareAndSwap('/nope', 'a', 0, 'b', permanent, T0), 100, '/nope', 1);
    throwsStore(() => store.compareAndSwap('/', 'a', 0, 'b', permanent, T0), 107, '/', 1);
  });
});

describe('store: delete and compare-and-delete', () => {
  it('delete of a file returns a node without value and the file as prevNode', () => {
    const store = storeWith(['/a', '1']);
    assert.deepEqual(store.delete('/a', false, false, T0), {
      action: 'delete',
      node: { key: '/a', modifiedIndex: 2, createdIndex: 1 },
      prevNode: { key: '/a', value: '1', modifiedIndex: 1, createdIndex: 1 },
    });
  });

  it('dir=true and recursive=true also delete plain files', () => {
    const store = storeWith(['/a', '1'], ['/b', '2']);
    assert.equal(store.delete('/a', true, false, T0).action, 'delete');
    assert.equal(store.delete('/b', false, true, T0).action, 'delete');
  });

  it('a directory needs dir=true (102); a non-empty one recursive=true (108), hidden children included', () => {
    const store = storeWith(['/d/_only', 'h']);
    throwsStore(() => store.delete('/d', false, false, T0), 102, '/d', 1);
    throwsStore(() => store.delete('/d', true, false, T0), 108, '/d', 1);
    const event = store.delete('/d', false, true, T0);
    assert.deepEqual(event.node, { key: '/d', dir: true, modifiedIndex: 2, createdIndex: 1 });
    throwsStore(() => store.get('/d/_only', false, false, T0), 100, '/d', 2);
  });

  it('deleting the root fails with 107', () => {
    throwsStore(() => new Store().delete('/', true, true, T0), 107, '/', 0);
  });

  it('compareAndDelete checks prevValue and prevIndex like compareAndSwap', () => {
    const store = storeWith(['/k', 'v']);
    throwsStore(() => store.compareAndDelete('/k', 'x', 0, T0), 101, '[x != v]', 1);
    throwsStore(() => store.compareAndDelete('/k', '', 5, T0), 101, '[5 != 1]', 1);
    assert.deepEqual(store.compareAndDelete('/k', 'v', 1, T0), {
      action: 'compareAndDelete',
      node: { key: '/k', modifiedIndex: 2, createdIndex: 1 },
      prevNode: { key: '/k', value: 'v', modifiedIndex: 1, createdIndex: 1 },
    });
  });

  it('compareAndDelete on a directory fails with 102; on the root without a cause', () => {
    const store = storeWith(['/d/x', '1']);
    throwsStore(() => store.compareAndDelete('/d', 'x', 0, T0), 102, '/d', 1);
    throwsStore(() => store.compareAndDelete('/', 'x', 0, T0), 102, undefined, 1);
  });
});

describe('store: TTL refresh and expiry', () => {
  it('refresh through set keeps the value, takes a new index and createdIndex, and notifies no watcher', () => {
    const store = new Store();
    store.set('/r', false, 'keep', ttl(5), T0);
    const seen: StoreEvent[] = [];
    store.watch('/r', false, true, 0, (e) => seen.push(e));
    const event = store.set('/r', false, '', { expireTime: expireTimeFor(50, T0), refresh: true }, T0);
    assert.deepEqual(event.node, { key: '/r', value: 'keep', expiration: formatExpiration(T0 + 50_000), ttl: 50, modifiedIndex: 2, createdIndex: 2 });
    assert.deepEqual(seen, []);
  });

  it('refresh through update or compareAndSwap keeps the value', () => {
    const store = new Store();
    store.set('/r', false, 'keep', ttl(5), T0);
    assert.equal(store.update('/r', '', { expireTime: expireTimeFor(9, T0), refresh: true }, T0).node.value, 'keep');
    assert.equal(store.compareAndSwap('/r', 'keep', 0, '', { expireTime: expireTimeFor(9, T0), refresh: true }, T0).action, 'compareAndSwap');
    assert.equal(store.get('/r', false, false, T0).node.value, 'keep');
  });

  it('refresh of a missing key fails with 100', () => {
    throwsStore(() => new Store().set('/a/b', false, '', { expireTime: expireTimeFor(5, T0), refresh: true }, T0), 100, '/a', 0);
  });

  it('refreshing a permanent key gives it a TTL', () => {
    const store = storeWith(['/p', 'v']);
    store.update('/p', '', { expireTime: expireTimeFor(1, T0), refresh: true }, T0);
    assert.equal(store.deleteExpiredKeys(T0 + 1000).length, 1);
  });

  it('expiry removes keys whose deadline passed, in deadline order, one expire event each', () => {
    const store = new Store();
    store.set('/late', false, 'l', ttl(3), T0);
    store.set('/early', false, 'e', ttl(1), T0);
    store.set('/keep', false, 'k', permanent, T0);
    assert.deepEqual(store.deleteExpiredKeys(T0 + 999), []);
    const events = store.deleteExpiredKeys(T0 + 3000);
    assert.deepEqual(events.map((e) => [e.action, e.node.key, e.node.modifiedIndex]), [['expire', '/early', 4], ['expire', '/late', 5]]);
    assert.deepEqual(events[0], {
      action: 'expire',
      node: { key: '/early', modifiedIndex: 4, createdIndex: 2 },
      prevNode: { key: '/early', value: 'e', expiration: formatExpiration(T0 + 1000), modifiedIndex: 2, createdIndex: 2 },
    });
    assert.equal(store.nextExpireTime(), undefined);
    assert.equal(store.stats.expireCount, 2);
  });

  it('a directory with a TTL takes its children with it; the event is on the directory', () => {
    const store = new Store();
    store.set('/dir', true, '', ttl(1), T0);
    store.set('/dir/child', false, 'c', ttl(100), T0);
    const events = store.deleteExpiredKeys(T0 + 1000);
    assert.deepEqual(events.map((e) => [e.node.key, e.node.dir]), [['/dir', true]]);
    assert.equal(store.nextExpireTime(), undefined);
  });

  it('removing a TTL (a write without ttl) takes the key out of the expiry heap', () => {
    const store = new Store();
    store.set('/a', false, 'v', ttl(1), T0);
    store.compareAndSwap('/a', 'v', 0, 'w', permanent, T0);
    assert.equal(store.nextExpireTime(), undefined);
  });
});

describe('store: stats', () => {
  it('counts successes and failures per operation', () => {
    const store = storeWith(['/a', '1']);
    store.get('/a', false, false, T0);
    assert.throws(() => store.get('/b', false, false, T0));
    assert.throws(() => store.create('/a', false, 'x', false, permanent, T0));
    const stats = store.stats;
    assert.deepEqual([stats.setsSuccess, stats.getsSuccess, stats.getsFail, stats.createFail], [1, 1, 1, 1]);
  });
});

describe('store: compareUtf8', () => {
  it('orders as UTF-8 bytes, not UTF-16 code units', () => {
    assert.ok(compareUtf8('\u{1F600}', '\uFFFD') > 0);
    assert.ok(compareUtf8('a', 'b') < 0);
    assert.ok(compareUtf8('ab', 'a') > 0);
    assert.equal(compareUtf8('x', 'x'), 0);
  });
});
