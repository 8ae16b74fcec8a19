import assert from 'node:assert/strict';
import type { StoreEvent } from '../../src/store/event.ts';
import { EventHistory } from '../../src/store/event-history.ts';
import { PERMANENT } from '../../src/store/node.ts';
import { Store, expireTimeFor } from '../../src/store/store.ts';
import { StoreError } from '../../src/store/store-error.ts';

const T0 = Date.UTC(2026, 10, 24, 6, 0, 0);
const permanent = { expireTime: PERMANENT };

/** A watch that records what it receives. */
function watchOf(store: Store, key: string, recursive: boolean, stream: boolean, sinceIndex = 0) {
  const seen: StoreEvent[] = [];
  const start = store.watch(key, recursive, stream, sinceIndex, (event) => seen.push(event));
  return { seen, start, keys: () => [...start.events, ...seen].map((e) => `${e.action} ${e.node.key}@${e.node.modifiedIndex}`) };
}

describe('store: watches', () => {
  it('a one-shot watch gets the next event on its key, then is removed', () => {
    const store = new Store();
    const w = watchOf(store, '/a', false, false);
    assert.equal(store.hub.count, 1);
    store.set('/a', false, '1', permanent, T0);
    store.set('/a', false, '2', permanent, T0);
    assert.deepEqual(w.keys(), ['set /a@1']);
    assert.equal(store.hub.count, 0);
  });

  it('the same event object is the reply, the history record and the notification', () => {
    const store = new Store();
    const w = watchOf(store, '/a', false, false);
    const reply = store.set('/a', false, '1', permanent, T0);
    assert.equal(w.seen[0], reply);
    assert.equal(store.watch('/a', false, false, 1, () => undefined).events[0], reply);
  });

  it('a non-recursive watch on a directory sees only events on the directory itself', () => {
    const store = new Store();
    store.set('/d', true, '', permanent, T0);
    const w = watchOf(store, '/d', false, true);
    store.set('/d/x', false, '1', permanent, T0);
    store.update('/d', '', { expireTime: expireTimeFor(60, T0) }, T0);
    assert.deepEqual(w.keys(), ['update /d@3']);
  });

  it('a recursive watch sees events below, but not hidden ones', () => {
    const store = new Store();
    const w = watchOf(store, '/d', true, true);
    store.set('/d/x', false, '1', permanent, T0);
    store.set('/d/_h', false, '1', permanent, T0);
    store.set('/d/_hd/y', false, '1', permanent, T0);
    store.set('/dd', false, '1', permanent, T0);
    store.set('/d/s/z', false, '1', permanent, T0);
    assert.deepEqual(w.keys(), ['set /d/x@1', 'set /d/s/z@5']);
  });

  it('a watch on a hidden key itself sees its events', () => {
    const store = new Store();
    const w = watchOf(store, '/d/_h', false, false);
    store.set('/d/_h', false, '1', permanent, T0);
    assert.deepEqual(w.keys(), ['set /d/_h@1']);
  });

  it('deleting a parent directory notifies watchers of keys below it, with the parent\'s event', () => {
    const store = new Store();
    store.set('/p/q/r', false, '1', permanent, T0);
    const below = watchOf(store, '/p/q/r', false, false);
    const stream = watchOf(store, '/p', true, true);
    store.delete('/p', true, true, T0);
    assert.deepEqual(below.keys(), ['delete /p@2']);
    assert.deepEqual(stream.keys(), ['delete /p@2'], 'a stream hears of one event once');
  });

  it('expiring a directory notifies watchers of keys below it', () => {
    const store = new Store();
    store.set('/e', true, '', { expireTime: expireTimeFor(1, T0) }, T0);
    store.set('/e/k', false, 'v', permanent, T0);
    const w = watchOf(store, '/e/k', false, false);
    store.deleteExpiredKeys(T0 + 1000);
    assert.deepEqual(w.keys(), ['expire /e@3']);
  });

  it('waitIndex in the history returns the first matching event at or after it at once', () => {
    const store = new Store();
    store.set('/a', false, '1', permanent, T0);
    store.set('/b', false, '1', permanent, T0);
    store.set('/a', false, '2', permanent, T0);
    const w = watchOf(store, '/a', false, false, 2);
    assert.deepEqual(w.keys(), ['set /a@3']);
    assert.equal(w.start.watcher, null);
    assert.equal(w.start.index, 3);
  });

  it('a history scan returns hidden keys below a recursive watch (etcd does not filter them there)', () => {
    const store = new Store();
    store.set('/d/_h', false, '1', permanent, T0);
    assert.deepEqual(watchOf(store, '/d', true, false, 1).keys(), ['set /d/_h@1']);
  });

  it('a history scan skips refreshes', () => {
    const store = new Store();
    store.set('/r', false, 'v', { expireTime: expireTimeFor(5, T0) }, T0);
    store.set('/r', false, '', { expireTime: expireTimeFor(5, T0), refresh: true }, T0);
    const w = watchOf(store, '/r', false, false, 2);
    assert.deepEqual(w.keys(), []);
    assert.notEqual(w.start.watcher, null);
    store.set('/r', false, 'w', permanent, T0);
    assert.deepEqual(w.keys(), ['set /r@3']);
  });

  it('a history scan sees the deletion of a directory above the key', () => {
    const store = new Store();
    store.set('/p/k', false, '1', permanent, T0);
    store.delete('/p', true, true, T0);
    assert.deepEqual(watchOf(store, '/p/k', false, false, 2).keys(), ['delete /p@2']);
  });

  it('a stream gets every matching event from the history, then the live ones, none twice', () => {
    const store = new Store();
    store.set('/s/a', false, '1', permanent, T0);
    store.set('/x', false, '1', permanent, T0);
    store.set('/s/b', false, '1', permanent, T0);
    const w = watchOf(store, '/s', true, true, 1);
    store.set('/s/c', false, '1', permanent, T0);
    assert.deepEqual(w.keys(), ['set /s/a@1', 'set /s/b@3', 'set /s/c@4']);
  });

  it('a waitIndex older than the history fails with 401 naming the oldest and requested index', () => {
    const store = new Store(new EventHistory(5));
    for (let i = 0; i < 10; i++) store.set('/k', false, String(i), permanent, T0);
    assert.throws(() => store.watch('/k', false, false, 3, () => undefined), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.deepEqual(error.toJSON(), {
        errorCode: 401,
        message: 'The event in requested index is outdated and cleared',
        cause: 'the requested history has been cleared [6/3]',
        index: 10,
      });
      return true;
    });
    assert.deepEqual(watchOf(store, '/k', false, false, 6).keys(), ['set /k@6']);
  });

  it('the history keeps the last 1,000 events by default', () => {
    const store = new Store();
    for (let i = 0; i < 1500; i++) store.set(`/k${i % 7}`, false, 'v', permanent, T0);
    assert.equal(store.history.startIndex, 501);
    assert.equal(store.history.lastIndex, 1500);
  });

  it('removing a watcher is immediate and leaves the others', () => {
    const store = new Store();
    const a = watchOf(store, '/k', false, true);
    const b = watchOf(store, '/k', false, true);
    const c = watchOf(store, '/k', false, true);
    b.start.watcher!.remove();
    b.start.watcher!.remove();
    assert.equal(store.hub.count, 2);
    store.set('/k', false, 'v', permanent, T0);
    assert.deepEqual([a.seen.length, b.seen.length, c.seen.length], [1, 0, 1]);
    a.start.watcher!.remove();
    c.start.watcher!.remove();
    assert.equal(store.hub.count, 0);
  });

  it('a listener may remove other watchers while being notified', () => {
    const store = new Store();
    const later = watchOf(store, '/k', false, true);
    const seen: StoreEvent[] = [];
    store.watch('/k', false, true, 0, (e) => {
      seen.push(e);
      later.start.watcher!.remove();
    });
    const third = watchOf(store, '/k', false, true);
    store.set('/k', false, 'v', permanent, T0);
    assert.equal(seen.length, 1);
    assert.equal(third.seen.length, 1);
  });

  it('a recursive watch on the root sees everything that is not hidden', () => {
    const store = new Store();
    const w = watchOf(store, '/', true, true);
    store.set('/a/b', false, '1', permanent, T0);
    store.set('/_h', false, '1', permanent, T0);
    assert.deepEqual(w.keys(), ['set /a/b@1']);
  });
});
