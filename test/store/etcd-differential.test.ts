import assert from 'node:assert/strict';
import type { StoreEvent } from '../../src/store/event.ts';
import { Store, expireTimeFor } from '../../src/store/store.ts';
import { StoreError } from '../../src/store/store-error.ts';
import type { EtcdProcess } from '../helpers/etcd.ts';
import { startEtcd } from '../helpers/etcd.ts';

/**
 * The same operations against etcd 3.4 (over its v2 HTTP API) and against the store, compared
 * body for body. The store starts at etcd's index so that indexes compare as they are; only
 * `expiration` (two clocks) is masked. The HTTP-to-store mapping here is the minimum etcd's
 * v2 handler does for these requests.
 */
type Params = Record<string, string>;
interface Op {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly key: string;
  readonly params?: Params;
}

const OPS: readonly Op[] = [
  { method: 'GET', key: '/diff' },
  { method: 'PUT', key: '/diff/a', params: { value: '1' } },
  { method: 'PUT', key: '/diff/a', params: { value: '2' } },
  { method: 'PUT', key: '/diff/a', params: { value: '3', prevExist: 'false' } },
  { method: 'PUT', key: '/diff/a', params: { value: '4', prevExist: 'true' } },
  { method: 'PUT', key: '/diff/a', params: { value: '5', prevValue: '4' } },
  { method: 'PUT', key: '/diff/a', params: { value: '6', prevValue: 'x' } },
  { method: 'PUT', key: '/diff/a', params: { value: '6', prevIndex: '1' } },
  { method: 'PUT', key: '/diff/a', params: { value: '6', prevIndex: '1', prevValue: 'x' } },
  { method: 'PUT', key: '/diff/missing', params: { value: '6', prevValue: 'x' } },
  { method: 'PUT', key: '/diff/d', params: { dir: 'true' } },
  { method: 'PUT', key: '/diff/d', params: { dir: 'true' } },
  { method: 'PUT', key: '/diff/d', params: { value: 'x' } },
  { method: 'PUT', key: '/diff/d', params: { dir: 'true', prevExist: 'false' } },
  { method: 'PUT', key: '/diff/d', params: { dir: 'true', prevExist: 'true', ttl: '30' } },
  { method: 'GET', key: '/diff/d' },
  { method: 'PUT', key: '/diff/a', params: { dir: 'true' } },
  { method: 'PUT', key: '/diff/a/b', params: { value: 'x' } },
  { method: 'GET', key: '/diff', params: { recursive: 'true', sorted: 'true' } },
  { method: 'POST', key: '/diff/q', params: { value: 'j1' } },
  { method: 'POST', key: '/diff/q', params: { value: 'j2' } },
  { method: 'GET', key: '/diff/q', params: { sorted: 'true' } },
  { method: 'POST', key: '/diff/a/b', params: { value: 'x' } },
  { method: 'DELETE', key: '/diff/a' },
  { method: 'DELETE', key: '/diff/a', params: { dir: 'true' } },
  { method: 'DELETE', key: '/diff/a', params: { recursive: 'true' } },
  { method: 'PUT', key: '/diff/h/_x', params: { value: '1' } },
  { method: 'GET', key: '/diff/h', params: { recursive: 'true' } },
  { method: 'DELETE', key: '/diff/h', params: { dir: 'true' } },
  { method: 'GET', key: '/diff/h/_x' },
  { method: 'PUT', key: '/diff/t', params: { value: 'v', ttl: '100' } },
  { method: 'PUT', key: '/diff/t', params: { value: 'w' } },
  { method: 'PUT', key: '/diff/t', params: { ttl: '50', refresh: 'true', prevExist: 'true' } },
  { method: 'PUT', key: '/diff/t', params: { ttl: '40', refresh: 'true' } },
  { method: 'PUT', key: '/diff/t', params: { value: 'w2', prevValue: 'w', ttl: '20' } },
  { method: 'PUT', key: '/diff/t', params: { dir: 'true', prevExist: 'true' } },
  { method: 'PUT', key: '/diff/z', params: { value: 'v', ttl: '0' } },
  { method: 'PUT', key: '/', params: { value: 'x' } },
  { method: 'DELETE', key: '/' },
  { method: 'DELETE', key: '/', params: { prevValue: 'x' } },
  { method: 'PUT', key: '/', params: { dir: 'true', prevExist: 'true' } },
  { method: 'GET', key: '/diff/nope/b/c' },
  { method: 'GET', key: '/diff/t/x' },
  { method: 'PUT', key: '/diff/t/x', params: { value: '1' } },
  { method: 'PUT', key: '/diff/ключ', params: { value: '値 & <tag>' } },
  { method: 'DELETE', key: '/diff/ключ', params: { prevValue: 'nope' } },
  { method: 'DELETE', key: '/diff/ключ', params: { prevValue: '値 & <tag>' } },
  { method: 'DELETE', key: '/diff/q/00000000000000000100', params: { prevIndex: '3' } },
  { method: 'GET', key: '/diff', params: { recursive: 'true', sorted: 'true' } },
];

const bool = (value: string | undefined) => value === 'true';

function applyToStore(store: Store, op: Op, now: number): StoreEvent {
  const p = op.params ?? {};
  const expireTime = expireTimeFor(p.ttl === undefined || p.ttl === '' ? undefined : Number(p.ttl), now);
  const ttl = { expireTime, refresh: bool(p.refresh) };
  const dir = bool(p.dir);
  const value = dir ? '' : (p.value ?? '');
  const prevIndex = Number(p.prevIndex ?? 0);
  const prevValue = p.prevValue ?? '';
  switch (op.method) {
    case 'GET':
      return store.get(op.key, bool(p.recursive), bool(p.sorted), now);
    case 'POST':
      return store.create(op.key, dir, value, true, ttl, now);
    case 'DELETE':
      if (prevValue !== '' || prevIndex !== 0) return store.compareAndDelete(op.key, prevValue, prevIndex, now);
      return store.delete(op.key, dir, bool(p.recursive), now);
    case 'PUT':
      if (p.prevExist === 'false') return store.create(op.key, dir, value, false, ttl, now);
      if (prevValue !== '' || prevIndex !== 0) return store.compareAndSwap(op.key, prevValue, prevIndex, value, ttl, now);
      if (p.prevExist === 'true') return store.update(op.key, value, ttl, now);
      return store.set(op.key, dir, value, ttl, now);
  }
}

/** Masks what two clocks make differ. */
function normalise(body: unknown): unknown {
  return JSON.parse(JSON.stringify(body), (key, value: unknown) => (key === 'expiration' ? '<expiration>' : value));
}

function keysUrl(endpoint: string, key: string): string {
  return `${endpoint}/v2/keys${key.split('/').map(encodeURIComponent).join('/')}`;
}

describe('store vs etcd 3.4: the same operations give the same bodies', function () {
  let etcd: EtcdProcess;
  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => etcd?.stop());

  it(`${OPS.length} operations, body for body`, async () => {
    const first = await fetch(`${etcd.endpoint}/v2/keys/`);
    const store = new Store();
    store.index = Number(first.headers.get('x-etcd-index'));
    const mismatches: string[] = [];
    for (const op of OPS) {
      const params = new URLSearchParams(op.params ?? {});
      const url = keysUrl(etcd.endpoint, op.key);
      const isGet = op.method === 'GET' || op.method === 'DELETE';
      const response = await fetch(isGet ? `${url}?${params}` : url, {
        method: op.method,
        ...(isGet ? {} : { body: params, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      });
      const etcdBody = normalise(await response.json());
      let storeBody: unknown;
      try {
        storeBody = normalise(applyToStore(store, op, Date.now()));
      } catch (error) {
        if (!(error instanceof StoreError)) throw error;
        storeBody = normalise(error.toJSON());
      }
      const label = `${op.method} ${op.key} ${params}`;
      try {
        assert.deepEqual(storeBody, etcdBody);
        assert.equal(JSON.stringify(storeBody), JSON.stringify(etcdBody), 'key order');
      } catch {
        mismatches.push(`${label}\n  etcd:  ${JSON.stringify(etcdBody)}\n  store: ${JSON.stringify(storeBody)}`);
      }
    }
    assert.deepEqual(mismatches, []);
  });

  it('watches from the history answer the same', async () => {
    const start = Number((await fetch(`${etcd.endpoint}/v2/keys/`)).headers.get('x-etcd-index'));
    const store = new Store();
    store.index = start;
    const writes: Op[] = [
      { method: 'PUT', key: '/w/a', params: { value: '1' } },
      { method: 'PUT', key: '/w/b/c', params: { value: '2' } },
      { method: 'PUT', key: '/w/_h', params: { value: '3' } },
      { method: 'DELETE', key: '/w/b', params: { recursive: 'true' } },
    ];
    for (const op of writes) {
      await fetch(keysUrl(etcd.endpoint, op.key) + (op.method === 'DELETE' ? '?recursive=true' : ''), {
        method: op.method,
        ...(op.method === 'PUT' ? { body: new URLSearchParams(op.params), headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}),
      });
      applyToStore(store, op, Date.now());
    }
    const watches: Array<[string, boolean, number]> = [
      ['/w', true, start + 1],
      ['/w', true, start + 2],
      ['/w/b/c', false, start + 3],
      ['/w', true, start + 3],
      ['/w/a', false, start + 1],
    ];
    for (const [key, recursive, waitIndex] of watches) {
      const query = new URLSearchParams({ wait: 'true', waitIndex: String(waitIndex), ...(recursive ? { recursive: 'true' } : {}) });
      const etcdBody = await (await fetch(`${keysUrl(etcd.endpoint, key)}?${query}`)).json();
      const storeBody = store.watch(key, recursive, false, waitIndex, () => undefined).events[0];
      assert.deepEqual(storeBody, etcdBody, `${key} ${query}`);
    }
  });
});
