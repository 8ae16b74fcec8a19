import assert from 'node:assert/strict';
import { requireBinary } from '../helpers/binary.ts';
import { TestCluster, allStarted } from '../helpers/cluster.ts';
import type { EtcdProcess } from '../helpers/etcd.ts';
import { startEtcd } from '../helpers/etcd.ts';

/**
 * The same sequence of /v2/auth requests, and of keys and members requests under auth, sent to
 * etcd 3.4 and to kvd (the built binary): status, body and headers must be the same. Only what
 * cannot be the same is masked: the cluster id's value, and for keys answers the indexes (etcd's
 * auth writes go through its key store and move its index; kvd keeps auth apart from the keys).
 */
interface Step {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD' | 'PATCH';
  readonly path: string;
  readonly body?: string;
  /** `name:password` sent as HTTP Basic credentials; a raw header value when it starts with "Basic". */
  readonly as?: string;
}

const ROOT = 'root:rootpw';
const put = (path: string, body: unknown, as?: string): Step => ({ method: 'PUT', path, body: typeof body === 'string' ? body : JSON.stringify(body), ...(as !== undefined ? { as } : {}) });
const get = (path: string, as?: string): Step => ({ method: 'GET', path, ...(as !== undefined ? { as } : {}) });
const del = (path: string, as?: string): Step => ({ method: 'DELETE', path, ...(as !== undefined ? { as } : {}) });

const STEPS: readonly Step[] = [
  // Auth disabled: everything is open.
  get('/v2/auth/enable'),
  get('/v2/auth/users'),
  get('/v2/auth/roles'),
  get('/v2/auth/roles/root'),
  get('/v2/auth/roles/guest'),
  get('/v2/auth/users/root'),
  { method: 'PUT', path: '/v2/auth/enable' },
  { method: 'DELETE', path: '/v2/auth/enable' },
  { method: 'POST', path: '/v2/auth/enable' },
  { method: 'HEAD', path: '/v2/auth/users' },
  { method: 'POST', path: '/v2/auth/users/x' },
  put('/v2/auth/users/bob', 'not json'),
  put('/v2/auth/users/bob', ''),
  put('/v2/auth/users/bob', '[1]'),
  put('/v2/auth/users/bob', { user: 'bob', password: 5 }),
  put('/v2/auth/users/bob', { user: 'other', password: 'pw' }),
  put('/v2/auth/users/bob', { user: 'bob' }),
  put('/v2/auth/users/bob', { user: 'bob', roles: ['r'], grant: ['g'] }),
  put('/v2/auth/users/root', { user: 'root', password: 'rootpw' }),
  put('/v2/auth/users/root', { user: 'root', password: 'rootpw' }),
  put('/v2/auth/users/bob', { user: 'bob', password: 'bobpw' }),
  put('/v2/auth/users/bob', { user: 'bob' }),
  put('/v2/auth/users/bob', { user: 'bob' }),
  put('/v2/auth/users/carl', { User: 'carl', Password: 'carlpw', roles: ['nosuch'] }),
  put('/v2/auth/users/carl', { user: 'carl', password: 'x', roles: ['nosuch'] }),
  get('/v2/auth/users/carl'),
  get('/v2/auth/users'),
  get('/v2/auth/users/'),
  get('/v2/auth/users/a/b'),
  put('/v2/auth/roles/root', { role: 'root' }),
  del('/v2/auth/roles/root'),
  put('/v2/auth/roles/app', { role: 'app' }),
  put('/v2/auth/roles/app', { role: 'app' }),
  get('/v2/auth/roles/app'),
  put('/v2/auth/roles/app', { role: 'app', revoke: { kv: { read: ['/nothing'] } } }),
  put('/v2/auth/roles/app', { role: 'app', revoke: { kv: { read: ['/nothing'] } } }),
  put('/v2/auth/roles/app', { role: 'app', grant: { kv: { read: ['/app/*', '/shared'], write: ['/app/*'] } } }),
  put('/v2/auth/roles/app', { role: 'app', grant: { kv: { read: ['/app/*'] } } }),
  put('/v2/auth/roles/app', { role: 'app', permissions: { kv: { read: ['/x'] } }, grant: { kv: { read: ['/y'] } } }),
  put('/v2/auth/roles/app', { role: 'app', grant: { kv: { write: ['/app/w/'] } }, revoke: { kv: { write: ['/app/w/'] } } }),
  put('/v2/auth/roles/app', { role: 'wrong' }),
  put('/v2/auth/roles/nosuch', { role: 'nosuch', grant: { kv: { read: ['/a'] } } }),
  put('/v2/auth/roles/kept', { role: 'kept', permissions: { kv: { read: ['/k'], write: null } }, grant: { kv: { read: [] } } }),
  get('/v2/auth/roles/kept'),
  del('/v2/auth/roles/kept'),
  del('/v2/auth/roles/kept'),
  put('/v2/auth/users/bob', { user: 'bob', grant: ['app'] }),
  put('/v2/auth/users/bob', { user: 'bob', grant: ['app'] }),
  put('/v2/auth/users/bob', { user: 'bob', revoke: ['nope'] }),
  put('/v2/auth/users/ghost', { user: 'ghost', grant: ['app'] }),
  get('/v2/auth/users/bob'),
  get('/v2/auth/roles'),
  del('/v2/auth/users/carl'),
  del('/v2/auth/users/carl'),
  // Enabling: the guest role appears with full access; then credentials count.
  { method: 'PUT', path: '/v2/auth/enable' },
  { method: 'PUT', path: '/v2/auth/enable', as: ROOT },
  get('/v2/auth/enable'),
  get('/v2/auth/users'),
  get('/v2/auth/users', 'bob:bobpw'),
  get('/v2/auth/users', 'root:wrong'),
  get('/v2/auth/users', 'Basic !!!'),
  get('/v2/auth/users', 'Basic cm9vdA=='),
  get('/v2/auth/roles', ROOT),
  get('/v2/auth/roles/guest', ROOT),
  del('/v2/auth/users/root', ROOT),
  get('/v2/auth/users/a/b', ROOT),
  { method: 'PATCH', path: '/v2/auth/roles/app', as: ROOT },
  // Keys as guest (full access by default), then with guest narrowed.
  put('/v2/keys/open?value=1', ''),
  put('/v2/auth/roles/guest', { role: 'guest', revoke: { kv: { write: ['/*'] } } }, ROOT),
  put('/v2/keys/open?value=2', ''),
  get('/v2/keys/open'),
  put('/v2/auth/roles/guest', { role: 'guest', revoke: { kv: { read: ['/*'] } } }, ROOT),
  get('/v2/keys/open'),
  get('/v2/keys/open', 'bob:wrong'),
  // A user with a prefix permission.
  put('/v2/keys/app/a?value=1', '', 'bob:bobpw'),
  get('/v2/keys/app/a', 'bob:bobpw'),
  get('/v2/keys/app?recursive=true', 'bob:bobpw'),
  get('/v2/keys/app', 'bob:bobpw'),
  get('/v2/keys/shared', 'bob:bobpw'),
  get('/v2/keys/shared?recursive=true', 'bob:bobpw'),
  put('/v2/keys/shared?value=1', '', 'bob:bobpw'),
  get('/v2/keys/other', 'bob:bobpw'),
  { method: 'POST', path: '/v2/keys/other?value=1', as: 'bob:bobpw' },
  { method: 'POST', path: '/v2/keys/app/q?value=1', as: 'bob:bobpw' },
  put('/v2/keys/app/a?value=2&prevValue=1', '', 'bob:bobpw'),
  put('/v2/keys/open?value=2&prevValue=1', '', 'bob:bobpw'),
  del('/v2/keys/other?prevValue=1', 'bob:bobpw'),
  del('/v2/keys/app?recursive=true', 'bob:bobpw'),
  get('/v2/keys/other?wait=true', 'bob:bobpw'),
  get('/v2/keys/?recursive=true&wait=true', 'bob:bobpw'),
  get('/v2/keys/', ROOT),
  // Members: reads open, writes need root.
  { method: 'POST', path: '/v2/members', body: '{"peerURLs":["http://127.0.0.1:1"]}', as: 'bob:bobpw' },
  del('/v2/members/1234'),
  // Disabling needs root.
  del('/v2/auth/enable', 'bob:bobpw'),
  del('/v2/auth/enable', ROOT),
  del('/v2/auth/enable', ROOT),
  get('/v2/keys/open'),
  del('/v2/auth/users/root'),
  get('/v2/auth/users'),
];

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Headers whose value is compared; others only for presence, and transport ones not at all. */
const COMPARED = new Set(['content-type', 'content-length', 'allow', 'x-content-type-options', 'access-control-allow-headers', 'access-control-allow-methods', 'access-control-allow-origin']);
const IGNORED = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

async function send(endpoint: string, step: Step): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (step.as !== undefined) headers.authorization = step.as.startsWith('Basic') ? step.as : `Basic ${Buffer.from(step.as).toString('base64')}`;
  if (step.body !== undefined && step.path.startsWith('/v2/members')) headers['content-type'] = 'application/json';
  const waiting = step.path.includes('wait=true');
  const controller = new AbortController();
  const response = await fetch(`${endpoint}${step.path}`, { method: step.method, headers, ...(step.body !== undefined ? { body: step.body } : {}), signal: controller.signal });
  const seen: Record<string, string> = {};
  for (const [name, value] of response.headers) if (!IGNORED.has(name)) seen[name] = COMPARED.has(name) ? value : '(present)';
  // A watch that was let in waits for an event: its head is the answer.
  if (waiting && response.status === 200) {
    controller.abort();
    return { status: response.status, headers: {}, body: '(watching)' };
  }
  return { status: response.status, headers: seen, body: await response.text() };
}

/**
 * Keys answers carry indexes that differ by design: compare their error code, or that they
 * succeeded; a refusal is compared whole but for the CORS headers, which kvd's keys answers leave
 * out in general (etcd adds them to every answer).
 */
function comparable(step: Step, answer: Answer): Answer {
  if (!step.path.startsWith('/v2/keys')) return answer;
  if (answer.status === 401) return { ...answer, headers: Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !name.startsWith('access-control-'))) };
  const parsed = JSON.parse(answer.body || '{}') as { errorCode?: number; action?: string };
  return { status: answer.status, headers: {}, body: parsed.errorCode !== undefined ? `error ${parsed.errorCode}` : `action ${parsed.action}` };
}

describe('the /v2/auth API and permission checks, side by side with etcd 3.4', function () {
  this.timeout(120_000);
  let etcd: EtcdProcess | undefined;
  let kvd: TestCluster | undefined;

  before(async () => {
    requireBinary();
    await allStarted([startEtcd().then((started) => (etcd = started)), TestCluster.start(1).then((started) => (kvd = started))]);
  });

  after(async () => {
    await Promise.all([etcd?.stop(), kvd?.destroy()]);
  });

  it(`answers ${STEPS.length} requests as etcd does: status, body and headers`, async () => {
    assert.ok(STEPS.length >= 60);
    const differences: string[] = [];
    for (const step of STEPS) {
      const expected = comparable(step, await send(etcd!.endpoint, step));
      const actual = comparable(step, await send(kvd!.members[0]!.clientUrl, step));
      try {
        assert.deepEqual(actual, expected);
      } catch {
        differences.push(`${step.method} ${step.path}${step.body !== undefined ? ` ${step.body}` : ''}${step.as !== undefined ? ` as ${step.as}` : ''}\n  etcd: ${JSON.stringify(expected)}\n  kvd:  ${JSON.stringify(actual)}`);
      }
    }
    assert.deepEqual(differences, []);
  });
});
