import assert from 'node:assert/strict';
import { OrderedApplier } from '../../src/client/ordered-applier.ts';

/** A change that finishes when the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('OrderedApplier', () => {
  it('runs changes to unrelated keys at once; the applied index stops below the oldest one running', async () => {
    const applier = new OrderedApplier(4);
    const a = gate();
    const b = gate();
    await applier.add(5, '/x', () => a.promise);
    await applier.add(6, '/y', () => b.promise);
    assert.equal(applier.appliedIndex, 4);
    b.open();
    await b.promise;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(applier.appliedIndex, 4);
    a.open();
    await applier.drain();
    assert.equal(applier.appliedIndex, 6);
  });

  it('holds a change until earlier changes of the same key, a directory above it or a key below it are done', async () => {
    const applier = new OrderedApplier(8);
    const order: string[] = [];
    const first = gate();
    await applier.add(1, '/d/k', async () => {
      await first.promise;
      order.push('set /d/k');
    });
    let started = false;
    const waiting = applier.add(2, '/d', async () => {
      started = true;
      order.push('delete /d');
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(started, false);
    first.open();
    await waiting;
    await applier.drain();
    assert.deepEqual(order, ['set /d/k', 'delete /d']);
  });

  it('keeps at most `limit` changes running, and counts skipped changes as applied', async () => {
    const applier = new OrderedApplier(1);
    const first = gate();
    await applier.add(1, '/a', () => first.promise);
    let second = false;
    const waiting = applier.add(2, '/b', async () => void (second = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(second, false);
    first.open();
    await waiting;
    applier.skip(9);
    await applier.drain();
    assert.equal(applier.appliedIndex, 9);
  });

  it('reports the first failure, and counts nothing from it on as applied', async () => {
    const applier = new OrderedApplier(4);
    const failing = gate();
    await applier.add(3, '/a', async () => {
      await failing.promise;
      throw new Error('refused');
    });
    await applier.add(4, '/b', () => Promise.resolve());
    failing.open();
    await assert.rejects(applier.drain(), /refused/);
    assert.equal(applier.appliedIndex, 2);
    await assert.rejects(applier.add(5, '/c', () => Promise.resolve()), /refused/);
  });
});
