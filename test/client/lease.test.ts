import assert from 'node:assert/strict';
import { EtcdError, UnavailableError } from '../../src/client/errors.ts';
import type { KeysResult } from '../../src/client/keys-client.ts';
import { Lease, LeaseLostError } from '../../src/client/lease.ts';

const notFound = () => new EtcdError({ errorCode: 100, message: 'Key not found', cause: '/k', index: 9 }, 404);
const ok: KeysResult = { event: { action: 'update', node: { key: '/k' } }, etcdIndex: 9 };
const never = () => new Promise<KeysResult>(() => undefined);
const waitAbort = (signal: AbortSignal) => new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));

describe('Lease: a TTL key kept alive', () => {
  const leases: Lease[] = [];
  afterEach(() => leases.splice(0).forEach((l) => l.close()));
  const lease = (refresh: () => Promise<KeysResult>, ttlSeconds: number, extra: { recreate?: () => Promise<void> } = {}) => {
    const l = new Lease({ refresh }, '/k', { ttlSeconds, ...extra });
    leases.push(l);
    return l;
  };

  it('refreshes every TTL/3 while the server confirms, and is not lost', async () => {
    let refreshes = 0;
    const l = lease(async () => (refreshes++, ok), 1);
    l.start(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.ok(refreshes >= 3, `${refreshes} refreshes in 1.3 s with a TTL of 1 s`);
    assert.equal(l.signal.aborted, false);
  });

  it('is lost at once when the server says the key is gone', async () => {
    const l = lease(async () => Promise.reject(notFound()), 3);
    const started = Date.now();
    l.start(started);
    const reason = await waitAbort(l.signal);
    assert.ok(reason instanceof LeaseLostError);
    assert.match((reason as Error).message, /expired or was deleted/);
    assert.ok(Date.now() - started < 1500, 'lost at the first refresh (after TTL/3), not at the deadline');
  });

  it('is lost before its TTL runs out when no refresh is confirmed (a partition)', async () => {
    const l = lease(never, 1);
    const started = Date.now();
    l.start(started);
    const reason = await waitAbort(l.signal);
    const after = Date.now() - started;
    assert.ok(reason instanceof LeaseLostError);
    assert.match((reason as Error).message, /within its TTL/);
    assert.ok(after < 1000, `lost after ${after} ms: it must be before the server can expire the key (1000 ms)`);
    assert.ok(after >= 700, `lost after ${after} ms: too early`);
  });

  it('keeps trying through failures that leave time, and then holds', async () => {
    let calls = 0;
    const l = lease(async () => {
      calls++;
      if (calls === 1) throw new UnavailableError('no endpoint answered');
      return ok;
    }, 3);
    l.start(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 1800));
    assert.ok(calls >= 2);
    assert.equal(l.signal.aborted, false);
  });

  it('with recreate, writes the key again instead of being lost', async () => {
    let recreated = 0;
    const l = lease(async () => Promise.reject(notFound()), 1, { recreate: async () => void recreated++ });
    l.start(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(recreated >= 1);
    assert.equal(l.signal.aborted, false);
  });

  it('refuses a TTL under one second', () => {
    assert.throws(() => new Lease({ refresh: never }, '/k', { ttlSeconds: 0 }), RangeError);
  });
});
