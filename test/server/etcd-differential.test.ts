import assert from 'node:assert/strict';
import { parseForm } from '../../src/server/form.ts';
import { applyCommand, commandFor } from '../../src/server/keys-command.ts';
import type { KeysMethod } from '../../src/server/keys-request.ts';
import { parseKeysRequest } from '../../src/server/keys-request.ts';
import { errorStatus, eventStatus, successBody } from '../../src/server/keys-response.ts';
import { Store } from '../../src/store/store.ts';
import { ErrorCodes, StoreError } from '../../src/store/store-error.ts';
import type { EtcdProcess } from '../helpers/etcd.ts';
import { startEtcd } from '../helpers/etcd.ts';

/**
 * The same requests to etcd 3.4 over HTTP and through kvd's keys pipeline (form, request parsing,
 * command, store, status and body), compared. The store starts at etcd's index so that indexes
 * compare as they are; only `expiration` (two clocks) is masked.
 */
type Params = Record<string, string>;
interface Op {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly key: string;
  readonly params?: Params;
  /** Sent as the raw query string (for malformed input). */
  readonly rawQuery?: string;
  /** Sent as a form body in addition to the query (PUT, POST, DELETE). */
  readonly body?: Params;
  /**
   * The key expires at once: wait until etcd's leader has expired it (its expiry runs on a timer,
   * and makes an index), then expire it locally too, so that both indexes move at the same point.
   */
  readonly expiresAtOnce?: boolean;
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
  { method: 'PUT', key: '/diff/z', params: { value: 'v', ttl: '0' }, expiresAtOnce: true },
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
  // Request parsing: errors come first, in etcd's order, with index 0.
  { method: 'PUT', key: '/p/a', params: { value: 'x', prevIndex: 'abc', recursive: 'maybe' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', prevIndex: '' } },
  { method: 'GET', key: '/p/a', params: { wait: 'true', waitIndex: '-1' } },
  { method: 'GET', key: '/p', params: { recursive: 'maybe' } },
  { method: 'GET', key: '/p', params: { sorted: 'yes' } },
  { method: 'GET', key: '/p', params: { quorum: 'x', stream: 'x' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', dir: '2' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', wait: 'true' } },
  { method: 'DELETE', key: '/p/a', params: { wait: 'true' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', prevValue: '' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', noValueOnSuccess: 'x' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', ttl: 'abc' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', ttl: '+5' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', ttl: '-1' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', ttl: ' 5' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', prevExist: '' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', refresh: 'x' } },
  { method: 'PUT', key: '/p/a', params: { value: 'x', refresh: 'true', ttl: '5' } },
  { method: 'PUT', key: '/p/a', params: { refresh: 'true' } },
  { method: 'PUT', key: '/p/a', params: { recursive: 'x', prevValue: '' } },
  { method: 'PUT', key: '/p/a', rawQuery: 'value=%zz' },
  { method: 'PUT', key: '/p/a', rawQuery: 'value=1;ttl=2' },
  // Go's booleans; body over query; the first of duplicates; DELETE bodies ignored.
  { method: 'PUT', key: '/p/b', params: { value: 'x', dir: 'F', recursive: 'T', sorted: 'TRUE', quorum: '0' } },
  { method: 'PUT', key: '/p/c', rawQuery: 'value=query', body: { value: 'body' } },
  { method: 'PUT', key: '/p/d', rawQuery: 'value=first&value=second' },
  { method: 'PUT', key: '/p/e', rawQuery: 'value=a+b%20c%2Bd' },
  { method: 'DELETE', key: '/p/e', body: { prevValue: 'nope' } },
  { method: 'PUT', key: '/p/f', params: { value: 'x', ttl: '' } },
  { method: 'POST', key: '/p/q', params: { value: 'x', prevExist: 'true', prevValue: 'nope' } },
  { method: 'PUT', key: '/p/g', params: { value: 'x', noValueOnSuccess: 'true' } },
  { method: 'PUT', key: '/p/g', params: { value: 'y', prevValue: 'x', noValueOnSuccess: 'true' } },
  { method: 'DELETE', key: '/p/g', params: { noValueOnSuccess: 'true' } },
  { method: 'PUT', key: '/p/h', params: { value: 'x', prevExist: 'false', prevValue: 'ignored' } },
  { method: 'PUT', key: '/p/h', params: { value: 'y', prevIndex: '0' } },
  { method: 'GET', key: '/', params: { recursive: 'true', sorted: 'true' } },
];

/** The request through kvd's pipeline: form -> request -> command -> store -> status and body. */
function answerLocally(store: Store, method: KeysMethod, key: string, query: string, body: string, contentType: string | undefined, now: number): { status: number; body: unknown } {
  try {
    const { form, error } = parseForm(method, query, contentType, body);
    if (error !== undefined) throw new StoreError(ErrorCodes.InvalidForm, error.message, 0);
    const request = parseKeysRequest(method, key, form);
    const event = applyCommand(store, commandFor(request, now));
    return { status: eventStatus(event), body: JSON.parse(successBody(event, request.noValueOnSuccess)) };
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    return { status: errorStatus(error.errorCode), body: error.toJSON() };
  }
}

/** Masks what two clocks make differ. */
function normalise(body: unknown): unknown {
  return JSON.parse(JSON.stringify(body), (key, value: unknown) => (key === 'expiration' ? '<expiration>' : value));
}

function keysUrl(endpoint: string, key: string): string {
  return `${endpoint}/v2/keys${key.split('/').map(encodeURIComponent).join('/')}`;
}

describe('kvd\'s keys pipeline vs etcd 3.4: the same requests give the same status and body', function () {
  let etcd: EtcdProcess;
  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => etcd?.stop());

  it(`${OPS.length} requests, status and body`, async () => {
    const first = await fetch(`${etcd.endpoint}/v2/keys/`);
    const store = new Store();
    store.index = Number(first.headers.get('x-etcd-index'));
    const mismatches: string[] = [];
    for (const op of OPS) {
      // Parameters go in the query for GET and DELETE, in a form body otherwise (as clients do).
      const inQuery = op.method === 'GET' || op.method === 'DELETE';
      const paramText = new URLSearchParams(op.params ?? {}).toString();
      const query = op.rawQuery ?? (inQuery ? paramText : '');
      const bodyText = op.body !== undefined ? new URLSearchParams(op.body).toString() : inQuery || op.rawQuery !== undefined ? '' : paramText;
      const contentType = bodyText !== '' ? 'application/x-www-form-urlencoded' : undefined;
      const url = keysUrl(etcd.endpoint, op.key) + (query === '' ? '' : `?${query}`);
      const response = await fetch(url, {
        method: op.method,
        ...(bodyText !== '' ? { body: bodyText, headers: { 'content-type': contentType! } } : {}),
      });
      const etcdAnswer = { status: response.status, body: normalise(await response.json()) };
      const local = answerLocally(store, op.method, op.key, query, bodyText, contentType, Date.now());
      const ourAnswer = { status: local.status, body: normalise(local.body) };
      const label = `${op.method} ${op.key} ?${query} body:${bodyText}`;
      if (op.expiresAtOnce) {
        const deadline = Date.now() + 5000;
        while ((await fetch(keysUrl(etcd.endpoint, op.key))).status !== 404 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        store.deleteExpiredKeys(Date.now());
      }
      try {
        assert.deepEqual(ourAnswer, etcdAnswer);
        assert.equal(JSON.stringify(ourAnswer.body), JSON.stringify(etcdAnswer.body), 'key order');
      } catch {
        mismatches.push(`${label}\n  etcd: ${JSON.stringify(etcdAnswer)}\n  kvd:  ${JSON.stringify(ourAnswer)}`);
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
      const query = op.method === 'DELETE' ? 'recursive=true' : '';
      const body = op.method === 'PUT' ? new URLSearchParams(op.params).toString() : '';
      await fetch(keysUrl(etcd.endpoint, op.key) + (query === '' ? '' : `?${query}`), {
        method: op.method,
        ...(body !== '' ? { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}),
      });
      answerLocally(store, op.method, op.key, query, body, body === '' ? undefined : 'application/x-www-form-urlencoded', Date.now());
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
