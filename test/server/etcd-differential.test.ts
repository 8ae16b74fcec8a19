import assert from 'node:assert/strict';
import { parseForm } from '../../src/server/form.ts';
import { applyCommand, commandFor } from '../../src/server/keys-command.ts';
import type { KeysMethod } from '../../src/server/keys-request.ts';
import { parseKeysRequest } from '../../src/server/keys-request.ts';
import { errorStatus, eventStatus, successBody } from '../../src/server/keys-response.ts';
import { Store } from '../../src/store/store.ts';
import { ErrorCodes, StoreError } from '../../src/store/store-error.ts';
import { requireBinary } from '../helpers/binary.ts';
import { TestCluster, allStarted } from '../helpers/cluster.ts';
import type { EtcdProcess } from '../helpers/etcd.ts';
import { startEtcd } from '../helpers/etcd.ts';
import { freePort } from '../helpers/ports.ts';
import type { RawAnswer } from '../helpers/raw-http.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { waitUntil } from '../helpers/trees.ts';

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
        await waitUntil(`${op.key} to expire on etcd`, async () => (await fetch(keysUrl(etcd.endpoint, op.key))).status === 404);
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

/** One request sent as raw bytes to etcd and to a kvd member, whose answers are compared. */
interface WireCase {
  readonly what: string;
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** To the peer URL rather than the client URL. */
  readonly peer?: boolean;
  /** Only status and header names compare: the body differs for good reason (versions, times). */
  readonly headersOnly?: boolean;
}

/** What differs between any two servers: the date, how the connection is kept, Raft's own counters. */
const PER_SERVER_HEADERS = new Set(['date', 'connection', 'keep-alive', 'x-raft-index', 'x-raft-term']);

interface Server {
  readonly client: string;
  readonly peer: string;
  /** This server's own names for things (ids, URLs, member name) and what they become when compared. */
  readonly own: ReadonlyArray<readonly [string, string]>;
}

/** An answer as compared: status, headers by lower-case name, the body with each server's own names replaced. */
function comparable(answer: RawAnswer, server: Server, headersOnly: boolean): { status: number; headers: Record<string, string>; body: string } {
  let body = answer.body.toString('utf8');
  for (const [own, common] of server.own) body = body.split(own).join(common);
  // The peer member list gives ids as JSON numbers.
  body = body.replace(/"id":\d+/g, '"id":<id>');
  const renamed = body !== answer.body.toString('utf8');
  const headers: Record<string, string> = {};
  for (const line of answer.headerLines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (PER_SERVER_HEADERS.has(name)) continue;
    const value = line.slice(colon + 1).trim();
    headers[name] = name === 'x-etcd-cluster-id' ? '<cluster>' : name === 'content-length' && (renamed || headersOnly) ? '<length>' : value;
  }
  return { status: answer.status, headers, body: headersOnly ? '<body>' : body };
}

function send(server: Server, c: WireCase): Promise<RawAnswer> {
  const url = c.peer ? server.peer : server.client;
  const body = Buffer.from(c.body ?? '');
  const extra = Object.entries(c.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  const head = `${c.method} ${c.path} HTTP/1.1\r\nHost: ${new URL(url).host}\r\nConnection: close\r\n${extra}Content-Length: ${body.length}\r\n\r\n`;
  return rawExchange(url, head, body, 20_000);
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** In order: the first is the first write of each fresh server. */
const WIRE_CASES: readonly WireCase[] = [
  { what: 'the first write of a fresh member gets index 4', method: 'PUT', path: '/v2/keys/first', headers: FORM, body: 'value=1' },
  { what: 'keys answers carry the CORS headers', method: 'GET', path: '/v2/keys/first', headers: { origin: 'http://example.com' } },
  { what: 'a preflight on the keys', method: 'OPTIONS', path: '/v2/keys/first', headers: { origin: 'http://example.com', 'access-control-request-method': 'PUT' } },
  { what: 'a preflight on any path', method: 'OPTIONS', path: '/health' },
  { what: '/health', method: 'GET', path: '/health' },
  { what: 'an unknown path: 404 with nosniff and a length', method: 'GET', path: '/nothing' },
  { what: 'a method the keys do not take', method: 'PATCH', path: '/v2/keys/first' },
  { what: 'a method no one knows', method: 'FOO', path: '/v2/keys/first' },
  { what: 'a method the members do not take', method: 'PATCH', path: '/v2/members' },
  { what: 'a method /health does not take', method: 'PUT', path: '/health' },
  { what: 'the member list under /v2/members/', method: 'GET', path: '/v2/members/' },
  { what: 'one member by id is not found', method: 'GET', path: '/v2/members/abc' },
  { what: 'a member added without JSON', method: 'POST', path: '/v2/members', headers: { 'content-type': 'text/plain' }, body: 'x' },
  { what: 'the leader', method: 'GET', path: '/v2/members/leader' },
  { what: 'the client URLs', method: 'GET', path: '/v2/machines' },
  { what: 'a quorum GET with wait is a read, not a watch', method: 'GET', path: '/v2/keys/first?wait=true&quorum=true' },
  { what: 'a 3 MiB value is stored', method: 'PUT', path: '/v2/keys/big', headers: FORM, body: `value=${'v'.repeat(3 << 20)}`, headersOnly: true },
  { what: 'a body of exactly 10 MiB is taken', method: 'PUT', path: '/v2/keys/big', headers: FORM, body: `value=${'v'.repeat((10 << 20) - 6)}`, headersOnly: true },
  { what: 'a body over 10 MiB is refused as etcd refuses it', method: 'PUT', path: '/v2/keys/big', headers: FORM, body: `value=${'v'.repeat((10 << 20) - 5)}` },
  { what: 'the version', method: 'GET', path: '/version', headersOnly: true },
  { what: 'this member\'s stats', method: 'GET', path: '/v2/stats/self', headersOnly: true },
  { what: 'the peer member list', method: 'GET', path: '/members', peer: true },
  { what: 'leader is no member id to update', method: 'PUT', path: '/v2/members/leader' },
  { what: 'leader is no member id to remove', method: 'DELETE', path: '/v2/members/leader' },
  { what: 'a method /v2/machines does not take', method: 'POST', path: '/v2/machines' },
  { what: 'HEAD of the client URLs', method: 'HEAD', path: '/v2/machines' },
  { what: 'HEAD of /health', method: 'HEAD', path: '/health' },
  { what: 'HEAD of /version', method: 'HEAD', path: '/version' },
  { what: 'the leader\'s stats', method: 'GET', path: '/v2/stats/leader', headersOnly: true },
  { what: 'removing a member by a malformed id', method: 'DELETE', path: '/v2/members/xyz' },
  { what: 'removing an unknown member', method: 'DELETE', path: '/v2/members/123' },
  { what: 'updating an unknown member', method: 'PUT', path: '/v2/members/123', headers: { 'content-type': 'application/json' }, body: '{"peerURLs":["http://127.0.0.1:1"]}' },
  { what: 'adding a member without peer URLs', method: 'POST', path: '/v2/members', headers: { 'content-type': 'application/json' }, body: '{}' },
  { what: 'HEAD of a key', method: 'HEAD', path: '/v2/keys/first' },
  { what: 'a method the stats do not take', method: 'POST', path: '/v2/stats/store' },
  { what: 'no such endpoint: /v2', method: 'GET', path: '/v2' },
  { what: 'no such endpoint: /v2/', method: 'GET', path: '/v2/' },
];

/** What a member calls itself: its id and name from /v2/members, its URLs. */
async function serverOf(client: string, peer: string, clusterId: string): Promise<Server> {
  const listed = (await (await fetch(`${client}/v2/members`)).json()) as { members: Array<{ id: string; name: string }> };
  const self = listed.members[0]!;
  return { client, peer, own: [[self.id, '<id>'], [clusterId, '<cluster>'], [client, '<client>'], [peer, '<peer>'], [`"${self.name}"`, '"<name>"']] };
}

describe('kvd vs etcd 3.4 on the wire: the same raw requests to a fresh member get the same answers', function () {
  this.timeout(90_000);
  let etcd: EtcdProcess | undefined;
  let kvd: TestCluster | undefined;
  let servers: { etcd: Server; kvd: Server };
  before(async () => {
    requireBinary();
    await allStarted([startEtcd().then((started) => (etcd = started)), TestCluster.start(1).then((started) => (kvd = started))]);
    const clusterIdOf = async (client: string) => (await fetch(`${client}/v2/keys/`)).headers.get('x-etcd-cluster-id')!;
    const member = kvd!.members[0]!;
    const reference = etcd!;
    servers = {
      etcd: await serverOf(reference.endpoint, reference.peers[0]!, await clusterIdOf(reference.endpoint)),
      kvd: await serverOf(member.clientUrl, member.peerUrl, await clusterIdOf(member.clientUrl)),
    };
  });
  after(async () => {
    await etcd?.stop();
    await kvd?.destroy();
  });

  for (const c of WIRE_CASES) {
    it(`${c.method} ${c.peer ? '(peer) ' : ''}${c.path.slice(0, 60)}: ${c.what}`, async () => {
      const [fromEtcd, fromKvd] = await Promise.all([send(servers.etcd, c), send(servers.kvd, c)]);
      assert.deepEqual(comparable(fromKvd, servers.kvd, c.headersOnly ?? false), comparable(fromEtcd, servers.etcd, c.headersOnly ?? false));
    });
  }

  it('a compareAndDelete whose compare fails counts in /v2/stats/store as etcd counts it', async () => {
    const counts = async (s: Server) => (await (await fetch(`${s.client}/v2/stats/store`)).json()) as Record<string, number>;
    const deltas: Array<Record<string, number>> = [];
    for (const s of [servers.etcd, servers.kvd]) {
      const before = await counts(s);
      await fetch(`${s.client}/v2/keys/first?prevValue=nope`, { method: 'DELETE' });
      await fetch(`${s.client}/v2/keys/missing?prevValue=nope`, { method: 'DELETE' });
      const after = await counts(s);
      deltas.push({ success: after.compareAndDeleteSuccess! - before.compareAndDeleteSuccess!, fail: after.compareAndDeleteFail! - before.compareAndDeleteFail! });
    }
    assert.deepEqual(deltas[1], deltas[0]);
  });

  // Last: a second voter that never starts leaves the member without a quorum.
  it('with a member added that never starts: the list is by id, and /health is false at once', async () => {
    const lists: string[][] = [];
    for (const s of [servers.etcd, servers.kvd]) {
      const added = await fetch(`${s.client}/v2/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ peerURLs: [`http://127.0.0.1:${await freePort()}`] }) });
      assert.equal(added.status, 201);
      const health = await send(s, { what: '', method: 'GET', path: '/health' });
      assert.deepEqual(comparable(health, s, false), { status: 503, headers: { 'access-control-allow-headers': 'accept, content-type, authorization', 'access-control-allow-methods': 'POST, GET, OPTIONS, PUT, DELETE', 'access-control-allow-origin': '*', 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'content-length': '19' }, body: '{"health":"false"}\n' });
      const listed = (await (await fetch(`${s.client}/v2/members`)).json()) as { members: Array<{ id: string }> };
      lists.push(listed.members.map((m) => m.id));
    }
    const byId = (ids: string[]) => [...ids].sort((a, b) => (BigInt(`0x${a}`) < BigInt(`0x${b}`) ? -1 : 1));
    assert.deepEqual(lists[0], byId(lists[0]!), 'etcd lists by id');
    assert.deepEqual(lists[1], byId(lists[1]!), 'kvd lists by id');
    // Go's %x: no zero padding.
    for (const ids of lists) for (const id of ids) assert.match(id, /^[1-9a-f][0-9a-f]*$/);
  });
});
