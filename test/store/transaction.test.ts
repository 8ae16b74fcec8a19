import assert from 'node:assert/strict';
import type { StoreEvent } from '../../src/store/event.ts';
import { PERMANENT } from '../../src/store/node.ts';
import { snapshotChunks } from '../../src/store/snapshot.ts';
import { Store, expireTimeFor } from '../../src/store/store.ts';
import type { TxnCompare, TxnOperation } from '../../src/store/transaction.ts';
import { TxnOperationError, compareHolds, runTransaction } from '../../src/store/transaction.ts';

const T0 = Date.UTC(2026, 10, 24, 6, 0, 0);
const permanent = { expireTime: PERMANENT };
const ttl = (seconds: number) => ({ expireTime: expireTimeFor(seconds, T0) });

const set = (key: string, value: string, options = permanent): TxnOperation => (s) => s.set(key, false, value, options, T0);
const get = (key: string, recursive = false): TxnOperation => (s) => s.get(key, recursive, true, T0);
const del = (key: string, recursive = false): TxnOperation => (s) => s.delete(key, false, recursive, T0);

/** /a=1 (index 1), /b=2 (index 2) with a 60 s TTL, /d/x=3 (index 3, 4 for the dir... see below). */
function sampleStore(): Store {
  const store = new Store();
  store.set('/a', false, '1', permanent, T0);
  store.set('/b', false, '2', ttl(60), T0);
  store.set('/d/x', false, '3', ttl(30), T0);
  store.set('/d/y', false, '4', permanent, T0);
  store.set('/e', true, '', permanent, T0);
  return store;
}

/** Everything a rollback must restore, as comparable data. */
function stateOf(store: Store) {
  return {
    snapshot: [...snapshotChunks(store)],
    index: store.index,
    nextExpire: store.nextExpireTime(),
    heapSize: store.ttlHeap.size,
    stats: store.stats,
  };
}

function keysOf(events: readonly StoreEvent[]): string[] {
  return events.map((e) => `${e.action} ${e.node.key}@${e.node.modifiedIndex}`);
}

function failsAt(run: () => unknown, operation: number, errorCode: number, cause: string | undefined, index: number): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof TxnOperationError, String(error));
    assert.deepEqual(
      { operation: error.operation, errorCode: error.error.errorCode, cause: error.error.errorCause, index: error.error.index },
      { operation, errorCode, cause, index },
    );
    return true;
  });
}

describe('store: transaction conditions', () => {
  const cases: Array<[string, TxnCompare, boolean]> = [
    ['prevValue holds when the file has that value', { key: '/a', prevValue: '1' }, true],
    ['prevValue fails when the value differs', { key: '/a', prevValue: '2' }, false],
    ['prevValue fails when the key is missing', { key: '/zz', prevValue: '1' }, false],
    ['prevValue fails on a directory', { key: '/d', prevValue: '' }, false],
    ['prevIndex holds when modifiedIndex is equal', { key: '/b', prevIndex: 2 }, true],
    ['prevIndex fails when modifiedIndex differs', { key: '/b', prevIndex: 1 }, false],
    ['prevIndex fails when the key is missing', { key: '/zz', prevIndex: 1 }, false],
    ['prevIndex fails on a directory', { key: '/e', prevIndex: 5 }, false],
    ['prevExist true holds for a file', { key: '/a', prevExist: true }, true],
    ['prevExist true holds for a directory', { key: '/d', prevExist: true }, true],
    ['prevExist true fails for a missing key', { key: '/zz', prevExist: true }, false],
    ['prevExist false holds for a missing key', { key: '/zz', prevExist: false }, true],
    ['prevExist false holds below a file (nothing can be there)', { key: '/a/b', prevExist: false }, true],
    ['prevExist false fails for an existing key', { key: '/a', prevExist: false }, false],
    ['all given must hold: value and index both right', { key: '/b', prevValue: '2', prevIndex: 2 }, true],
    ['all given must hold: right value, wrong index', { key: '/b', prevValue: '2', prevIndex: 3 }, false],
    ['all given must hold: prevExist false with a prevValue never holds', { key: '/zz', prevExist: false, prevValue: 'x' }, false],
    ['a key alone holds (nothing to compare)', { key: '/zz' }, true],
    ['keys are cleaned as in the v2 API', { key: 'a//', prevValue: '1' }, true],
  ];
  for (const [name, compare, holds] of cases) {
    it(name, () => assert.equal(compareHolds(sampleStore(), compare), holds));
  }

  it('the success branch runs when every compare holds, the failure branch otherwise', () => {
    const store = sampleStore();
    const yes = runTransaction(store, [{ key: '/a', prevValue: '1' }, { key: '/b', prevIndex: 2 }], [set('/r', 'yes')], [set('/r', 'no')]);
    assert.equal(yes.succeeded, true);
    assert.equal(store.get('/r', false, false, T0).node.value, 'yes');
    const no = runTransaction(store, [{ key: '/a', prevValue: '1' }, { key: '/b', prevIndex: 3 }], [set('/r', 'yes')], [set('/r', 'no')]);
    assert.equal(no.succeeded, false);
    assert.equal(store.get('/r', false, false, T0).node.value, 'no');
  });

  it('no compares hold vacuously; an empty branch changes nothing', () => {
    const store = sampleStore();
    const before = stateOf(store);
    assert.deepEqual(runTransaction(store, [], [], [set('/r', 'x')]), { succeeded: true, events: [] });
    assert.deepEqual(stateOf(store), before);
  });

  it('compares count no get in the stats', () => {
    const store = sampleStore();
    runTransaction(store, [{ key: '/a', prevValue: '1' }], [], []);
    assert.equal(store.stats.getsSuccess + store.stats.getsFail, 0);
  });
});

describe('store: transaction operations', () => {
  it('every kind of operation gives the event its single-key call gives, with consecutive indexes', () => {
    const store = sampleStore();
    const reference = sampleStore();
    const operations: TxnOperation[] = [
      (s) => s.set('/a', false, 'one', permanent, T0),
      (s) => s.set('/n/dir', true, '', ttl(10), T0),
      (s) => s.set('/b', false, '', { expireTime: expireTimeFor(90, T0), refresh: true }, T0),
      (s) => s.create('/c', false, 'new', false, permanent, T0),
      (s) => s.create('/q', false, 'job', true, permanent, T0),
      (s) => s.update('/d/y', 'four', ttl(5), T0),
      (s) => s.compareAndSwap('/a', 'one', 0, 'uno', permanent, T0),
      (s) => s.delete('/e', true, false, T0),
      (s) => s.compareAndDelete('/d/y', 'four', 0, T0),
      (s) => s.delete('/d', false, true, T0),
      (s) => s.get('/', true, true, T0),
    ];
    const outcome = runTransaction(store, [], operations, []);
    const expected = operations.map((operation) => operation(reference));
    assert.deepEqual(outcome.events, expected);
    assert.deepEqual(
      outcome.events.map((e) => e.node.modifiedIndex),
      [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, undefined],
    );
    assert.equal(outcome.events[4]!.node.key, '/q/00000000000000000010');
    assert.deepEqual(stateOf(store), stateOf(reference));
  });

  it('a get reads the state as of its point in the transaction', () => {
    const store = sampleStore();
    const outcome = runTransaction(store, [], [get('/a'), set('/a', 'x'), get('/a'), del('/a'), set('/a', 'y'), get('/a')], []);
    assert.deepEqual(outcome.events.filter((e) => e.action === 'get').map((e) => e.node.value), ['1', 'x', 'y']);
  });

  it('a committed transaction records every write in the history, refreshes as refreshes', () => {
    const store = sampleStore();
    runTransaction(store, [], [set('/a', 'x'), (s) => s.set('/b', false, '', { expireTime: expireTimeFor(5, T0), refresh: true }, T0), del('/a')], []);
    assert.deepEqual(keysOf(store.watch('/', true, true, 6, () => undefined).events), ['set /a@6', 'delete /a@8']);
    assert.equal(store.history.lastIndex, 8);
  });

  it('keys written with a TTL in a transaction expire like any other', () => {
    const store = sampleStore();
    runTransaction(store, [], [set('/t', 'x', ttl(1))], []);
    assert.deepEqual(keysOf(store.deleteExpiredKeys(T0 + 1000)), ['expire /t@7']);
  });
});

describe('store: transaction rollback', () => {
  it('a failing operation undoes the ones before it and names its position and error', () => {
    const store = sampleStore();
    store.trackChanges();
    const before = stateOf(store);
    failsAt(() => runTransaction(store, [{ key: '/a', prevValue: '1' }], [
      set('/a', 'changed', ttl(5)),
      set('/b', 'changed', permanent),
      (s) => s.create('/q', false, 'job', true, ttl(7), T0),
      set('/new/deep/key', 'v', ttl(1)),
      del('/d', true),
      (s) => s.update('/e', '', ttl(3), T0),
      get('/new/deep/key'),
      del('/missing'),
      set('/never', 'x'),
    ], []), 7, 100, '/missing', 5);
    assert.deepEqual(stateOf(store), { ...before, stats: { ...before.stats, deleteFail: 1 } });
    assert.deepEqual(store.takeChanges(), { written: [], removed: [] });
  });

  it('the directories a rollback puts back list their children in creation order', () => {
    const store = sampleStore();
    store.set('/d/z', false, '5', permanent, T0);
    const before = store.get('/d', true, false, T0);
    failsAt(() => runTransaction(store, [], [del('/d/x'), set('/d/x', 'again'), del('/d', true), del('/d')], []), 3, 100, '/d', 6);
    assert.deepEqual(store.get('/d', true, false, T0), before);
  });

  it('a rolled-back transaction publishes nothing: no history record, no watcher notified', () => {
    const store = sampleStore();
    const seen: StoreEvent[] = [];
    store.watch('/', true, true, 0, (event) => seen.push(event));
    assert.throws(() => runTransaction(store, [], [set('/a', 'x'), del('/a'), (s) => s.create('/b', false, 'dup', false, permanent, T0)], []), TxnOperationError);
    assert.deepEqual(seen, []);
    assert.equal(store.history.lastIndex, 5);
    store.set('/after', false, 'v', permanent, T0);
    assert.deepEqual(keysOf(seen), ['set /after@6']);
  });

  it('the TTL heap is as before: the rolled-back keys never expire, the restored ones do', () => {
    const store = sampleStore();
    assert.throws(() => runTransaction(store, [], [set('/b', 'keep', permanent), del('/d', true), set('/t', 'x', ttl(1)), del('/missing')], []), TxnOperationError);
    assert.deepEqual(keysOf(store.deleteExpiredKeys(T0 + 60_000)), ['expire /d/x@6', 'expire /b@7']);
  });

  it('the failure branch rolls back too, and a later transaction starts from the restored index', () => {
    const store = sampleStore();
    failsAt(() => runTransaction(store, [{ key: '/a', prevExist: false }], [], [set('/x', '1'), del('/e')]), 1, 102, '/e', 5);
    const outcome = runTransaction(store, [], [set('/x', '1')], []);
    assert.equal(outcome.events[0]!.node.modifiedIndex, 6);
  });
});

describe('store: transaction watches', () => {
  it('a stream watcher receives a transaction whole and in index order, only after it committed', () => {
    const store = sampleStore();
    const seen: string[] = [];
    store.watch('/', true, true, 0, (event) => seen.push(`${event.action} ${event.node.key}@${event.node.modifiedIndex} (store at ${store.index})`));
    runTransaction(store, [], [set('/a', 'x'), get('/a'), (s) => s.create('/q', false, 'j', true, permanent, T0), del('/d', true)], []);
    assert.deepEqual(seen, [
      'set /a@6 (store at 8)',
      'create /q/00000000000000000007@7 (store at 8)',
      'delete /d@8 (store at 8)',
    ]);
  });

  it('a one-shot watcher gets the first event of the transaction on its key', () => {
    const store = sampleStore();
    const seen: StoreEvent[] = [];
    store.watch('/a', false, false, 0, (event) => seen.push(event));
    runTransaction(store, [], [set('/b', 'x'), set('/a', 'x'), set('/a', 'y')], []);
    assert.deepEqual(keysOf(seen), ['set /a@7']);
  });
});
