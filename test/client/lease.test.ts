import assert from 'node:assert/strict';
import { mock } from 'node:test';
import { EtcdError, UnavailableError } from '../../src/client/errors.ts';
import type { KeysResult } from '../../src/client/keys-client.ts';
import { Lease, LeaseLostError } from '../../src/client/lease.ts';

const notFound = () => new EtcdError({ errorCode: 100, message: 'Key not found', cause: '/k', index: 9 }, 404);
const ok: KeysResult = { event: { action: 'update', node: { key: '/k' } }, etcdIndex: 9 };
const never = () => new Promise<KeysResult>(() => undefined);

/**
 * Moves the mocked clock on by `ms`, a step of at most 10 ms at a time, letting the refreshes that
 * each step started settle (their promises, on the real setImmediate) before the next.
 */
async function advance(ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 10) {
    mock.timers.tick(Math.min(10, left));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('Lease: a TTL key kept alive', () => {
  const leases: Lease[] = [];
  // Time is the mocked clock's: what the lease does at each moment is asserted, never a duration measured.
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
  afterEach(() => {
    leases.splice(0).forEach((l) => l.close());
    mock.timers.reset();
  });
  const lease = (refresh: () => Promise<KeysResult>, ttlSeconds: number, extra: { recreate?: () => Promise<void> } = {}) => {
    const l = new Lease({ refresh }, '/k', { ttlSeconds, ...extra });
    leases.push(l);
    return l;
  };

  it('refreshes every TTL/3 while the server confirms, and is not lost', async () => {
    let refreshes = 0;
    const l = lease(async () => (refreshes++, ok), 1);
    l.start(Date.now());
    for (let i = 1; i <= 3; i++) {
      await advance(334);
      assert.equal(refreshes, i, `${refreshes} refreshes after ${i} thirds of the TTL`);
    }
    await advance(2000);
    assert.equal(l.signal.aborted, false);
  });

  it('is lost at once when the server says the key is gone', async () => {
    const l = lease(async () => Promise.reject(notFound()), 3);
    l.start(Date.now());
    await advance(999);
    assert.equal(l.signal.aborted, false, 'no refresh yet');
    await advance(1);
    assert.ok(l.signal.aborted, 'lost at the first refresh (after TTL/3), not at the deadline');
    assert.ok(l.signal.reason instanceof LeaseLostError);
    assert.match((l.signal.reason as Error).message, /expired or was deleted/);
  });

  it('is lost before its TTL runs out when no refresh is confirmed (a partition)', async () => {
    const l = lease(never, 1);
    l.start(Date.now());
    await advance(700);
    assert.equal(l.signal.aborted, false, 'lost too early');
    await advance(299);
    assert.ok(l.signal.aborted, 'it must be lost before the server can expire the key (1000 ms)');
    assert.ok(l.signal.reason instanceof LeaseLostError);
    assert.match((l.signal.reason as Error).message, /within its TTL/);
  });

  it('keeps trying through failures that leave time, and then holds', async () => {
    let calls = 0;
    const l = lease(async () => {
      calls++;
      if (calls === 1) throw new UnavailableError('no endpoint answered');
      return ok;
    }, 3);
    l.start(Date.now());
    await advance(1000);
    assert.equal(calls, 1);
    await advance(500);
    assert.equal(calls, 2, 'tried again after the failure');
    await advance(2900);
    assert.equal(l.signal.aborted, false);
  });

  it('with recreate, writes the key again instead of being lost', async () => {
    let recreated = 0;
    const l = lease(async () => Promise.reject(notFound()), 1, { recreate: async () => void recreated++ });
    l.start(Date.now());
    await advance(334);
    assert.equal(recreated, 1);
    await advance(2000);
    assert.equal(l.signal.aborted, false);
  });

  it('refuses a TTL under one second', () => {
    assert.throws(() => new Lease({ refresh: never }, '/k', { ttlSeconds: 0 }), RangeError);
  });
});
