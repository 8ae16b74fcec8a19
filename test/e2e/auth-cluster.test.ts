import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { KVCTL_BIN, background, requireBinary, run } from '../helpers/binary.ts';
import { TestCluster } from '../helpers/cluster.ts';

/**
 * Users, roles and permissions on a real cluster: replicated to every member, kept across
 * restarts through snapshots (the log that made them is compacted away), checked on every path
 * (watches included), and managed with etcdctl v2 and kvctl.
 */
const ROOT = 'root:rootpw';
const BOB = 'bob:bobpw';

interface Answer {
  readonly status: number;
  readonly body: string;
}

function basic(as: string): string {
  return `Basic ${Buffer.from(as).toString('base64')}`;
}

async function call(url: string, method: string, path: string, options: { as?: string; body?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = options.as === undefined ? {} : { authorization: basic(options.as) };
  const response = await fetch(`${url}${path}`, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  return { status: response.status, body: await response.text() };
}

/** Polls until `check` holds (a replicated change reaching a member); fails with the last answer. */
async function eventually(what: string, probe: () => Promise<Answer>, check: (a: Answer) => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Answer | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (check(last)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`${what}: last answer ${JSON.stringify(last)}`);
}

/** Sets up root, a role `app` reading and writing /app/*, user bob with it; enables auth. */
async function setUp(url: string): Promise<void> {
  assert.equal((await call(url, 'PUT', '/v2/auth/users/root', { body: { user: 'root', password: 'rootpw' } })).status, 201);
  assert.equal((await call(url, 'PUT', '/v2/auth/roles/app', { body: { role: 'app' } })).status, 201);
  assert.equal((await call(url, 'PUT', '/v2/auth/roles/app', { body: { role: 'app', grant: { kv: { read: ['/app/*'], write: ['/app/*'] } } } })).status, 200);
  assert.equal((await call(url, 'PUT', '/v2/auth/users/bob', { body: { user: 'bob', password: 'bobpw', roles: ['app'] } })).status, 200);
  assert.equal((await call(url, 'PUT', '/v2/auth/enable')).status, 200);
  // The guest role etcd makes has full access: take it away, so that anonymous requests are refused.
  assert.equal((await call(url, 'PUT', '/v2/auth/roles/guest', { as: ROOT, body: { role: 'guest', revoke: { kv: { read: ['/*'], write: ['/*'] } } } })).status, 200);
}

/** A watch's first line, or its refusal: the status and the first chunk of the body. */
function watchOnce(url: string, path: string, as: string): { answer: Promise<Answer>; close: () => void } {
  let request: http.ClientRequest | undefined;
  const answer = new Promise<Answer>((resolve, reject) => {
    request = http.get(`${url}${path}`, { headers: { authorization: basic(as) } }, (response) => {
      response.setEncoding('utf8');
      let text = '';
      response.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\n')) resolve({ status: response.statusCode!, body: text.split('\n')[0]! });
      });
      response.on('end', () => resolve({ status: response.statusCode!, body: text }));
    });
    request.on('error', reject);
  });
  return { answer, close: () => request?.destroy() };
}

describe('auth on a cluster: replication, snapshots, every path', function () {
  this.timeout(120_000);
  let cluster: TestCluster | undefined;

  before(() => requireBinary());
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('a permission change on one member takes effect on the others, and survives a restart from snapshots', async () => {
    cluster = await TestCluster.start(3, ['--snapshot-count', '10', '--snapshot-catchup-entries', '2']);
    const [m1, m2, m3] = cluster.members as [typeof cluster.members[0], typeof cluster.members[0], typeof cluster.members[0]];
    await setUp(m1.clientUrl);
    for (const m of [m2, m3]) {
      await eventually(`anonymous writes refused on ${m.name}`, () => call(m.clientUrl, 'PUT', '/v2/keys/app/anon?value=1'), (a) => a.status === 401);
      await eventually(`bob may write on ${m.name}`, () => call(m.clientUrl, 'PUT', `/v2/keys/app/${m.name}?value=1`, { as: BOB }), (a) => a.status === 201 || a.status === 200);
    }
    // Revoked on m1: refused on m2 and m3 once applied there.
    assert.equal((await call(m1.clientUrl, 'PUT', '/v2/auth/roles/app', { as: ROOT, body: { role: 'app', revoke: { kv: { write: ['/app/*'] } } } })).status, 200);
    for (const m of [m2, m3]) {
      await eventually(`bob's write refused on ${m.name}`, () => call(m.clientUrl, 'PUT', '/v2/keys/app/x?value=2', { as: BOB }), (a) => a.status === 401);
    }
    // Enough writes for snapshots that compact the auth entries out of the log.
    for (let i = 0; i < 30; i++) assert.equal((await call(m1.clientUrl, 'PUT', `/v2/keys/fill/${i}?value=${i}`, { as: ROOT })).status, 201);
    for (const m of cluster.members) await cluster.waitForLog(m, /snapshot saved/);
    for (const m of cluster.members) await cluster.kill(m);
    for (const m of cluster.members) cluster.launch(m);
    await cluster.waitHealthy();
    for (const m of cluster.members) {
      assert.deepEqual(await call(m.clientUrl, 'GET', '/v2/auth/enable'), { status: 200, body: '{"enabled":true}\n' }, m.name);
      assert.equal((await call(m.clientUrl, 'GET', '/v2/keys/app/m2', { as: BOB })).status, 200, `${m.name}: bob still reads`);
      assert.equal((await call(m.clientUrl, 'PUT', '/v2/keys/app/x?value=3', { as: BOB })).status, 401, `${m.name}: bob still may not write`);
      assert.equal((await call(m.clientUrl, 'GET', '/v2/keys/app/m2', { as: 'bob:wrong' })).status, 401, `${m.name}: a wrong password is refused`);
      assert.equal((await call(m.clientUrl, 'GET', '/v2/keys/app/m2')).status, 401, `${m.name}: guest has no access`);
    }
    const role = JSON.parse((await call(m3.clientUrl, 'GET', '/v2/auth/roles/app', { as: ROOT })).body) as unknown;
    assert.deepEqual(role, { role: 'app', permissions: { kv: { read: ['/app/*'], write: [] } } });
  });

  it('users, roles and the auth switch travel in a backup: a cluster restored from it enforces them', async () => {
    cluster = await TestCluster.start(1);
    const url = cluster.members[0]!.clientUrl;
    await setUp(url);
    assert.equal((await call(url, 'PUT', '/v2/keys/app/kept?value=1', { as: BOB })).status, 201);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-auth-backup-'));
    try {
      const file = path.join(dir, 'backup.kvdsnap');
      const kvctl = (args: readonly string[]) => run(KVCTL_BIN, args, { env: { PATH: '/usr/bin:/bin' } });
      assert.equal((await kvctl(['--endpoints', url, 'snapshot', 'save', file])).code, 4, 'an anonymous backup is refused');
      const saved = await kvctl(['--endpoints', url, '--user', ROOT, 'snapshot', 'save', file]);
      assert.equal(saved.code, 0, saved.stderr);
      await cluster.destroy();
      cluster = await TestCluster.create(1);
      const member = cluster.members[0]!;
      const restored = await kvctl(['snapshot', 'restore', file, '--name', member.name, '--initial-cluster', `${member.name}=${member.peerUrl}`, '--data-dir', member.dataDir]);
      assert.equal(restored.code, 0, restored.stderr);
      cluster.launch(member);
      await cluster.waitHealthy();
      assert.deepEqual(await call(member.clientUrl, 'GET', '/v2/auth/enable'), { status: 200, body: '{"enabled":true}\n' });
      assert.equal((await call(member.clientUrl, 'GET', '/v2/keys/app/kept', { as: BOB })).status, 200, 'bob reads with his password');
      assert.equal((await call(member.clientUrl, 'GET', '/v2/keys/app/kept', { as: 'bob:wrong' })).status, 401);
      assert.equal((await call(member.clientUrl, 'GET', '/v2/keys/app/kept')).status, 401, 'guest has no access');
      assert.equal((await call(member.clientUrl, 'PUT', '/v2/keys/other?value=x', { as: BOB })).status, 401);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('checks every keys path: reads, recursive reads, writes, CAS, CAD, in-order POSTs, long-poll and stream watches, members', async () => {
    cluster = await TestCluster.start(1);
    const url = cluster.members[0]!.clientUrl;
    await setUp(url);
    assert.equal((await call(url, 'PUT', '/v2/keys/other?value=secret', { as: ROOT })).status, 201);
    const expect = async (method: string, path: string, status: number) => assert.equal((await call(url, method, path, { as: BOB })).status, status, `${method} ${path}`);
    await expect('PUT', '/v2/keys/app/a?value=1', 201);
    await expect('PUT', '/v2/keys/app/a?value=2&prevValue=1', 200);
    await expect('GET', '/v2/keys/app/a', 200);
    await expect('POST', '/v2/keys/app/q?value=j', 201);
    await expect('GET', '/v2/keys/app/?recursive=true', 200);
    await expect('DELETE', '/v2/keys/app/a?prevValue=2', 200);
    await expect('GET', '/v2/keys/other', 401);
    await expect('PUT', '/v2/keys/other?value=x', 401);
    await expect('PUT', '/v2/keys/other?value=x&prevValue=secret', 401);
    await expect('DELETE', '/v2/keys/other?prevValue=secret', 401);
    await expect('POST', '/v2/keys/other?value=j', 401);
    // A recursive request needs a pattern that covers everything under its key, as in etcd.
    await expect('GET', '/v2/keys/?recursive=true', 401);
    await expect('GET', '/v2/keys/app?recursive=true', 401);
    await expect('DELETE', '/v2/keys/app/?recursive=true', 200);
    await expect('GET', '/v2/keys/other?wait=true', 401);
    await expect('GET', '/v2/keys/?wait=true&recursive=true', 401);
    await expect('GET', '/v2/keys/?wait=true&recursive=true&stream=true', 401);
    await expect('POST', '/v2/members', 401);
    await expect('GET', '/v2/members', 200);
    // kvd's extensions: a transaction needs every access it makes; the whole-store backup, root.
    const txn = async (body: unknown, as: string) => {
      const response = await fetch(`${url}/v2/txn`, { method: 'POST', headers: { authorization: basic(as), 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: await response.text() };
    };
    assert.equal((await txn({ compare: [], success: [{ action: 'set', key: '/app/t', value: '1' }] }, BOB)).status, 200);
    assert.equal((await txn({ compare: [{ key: '/other', prevValue: 'secret' }], success: [{ action: 'set', key: '/app/t', value: '2' }] }, BOB)).status, 401, 'a compare reads /other');
    assert.equal((await txn({ compare: [], success: [{ action: 'get', key: '/other' }] }, BOB)).status, 401, 'a get of /other');
    assert.equal((await txn({ compare: [], success: [{ action: 'set', key: '/app/t', value: '3' }], failure: [{ action: 'delete', key: '/other' }] }, BOB)).status, 401, 'a branch that writes /other');
    assert.equal((await call(url, 'GET', '/v2/keys/other', { as: ROOT })).body.includes('"value":"secret"'), true, 'nothing of the refused transactions was applied');
    await expect('GET', '/v2/kvd/snapshot', 401);
    assert.equal((await fetch(`${url}/v2/kvd/snapshot`)).status, 401, 'the backup of an anonymous client');
    const backup = await fetch(`${url}/v2/kvd/snapshot`, { headers: { authorization: basic(ROOT) } });
    assert.equal(backup.status, 200);
    await backup.arrayBuffer();
    await expect('GET', '/v2/stats/self', 200);
    // Watches that are let in see their events.
    const poll = watchOnce(url, '/v2/keys/app/w?wait=true', BOB);
    const stream = watchOnce(url, '/v2/keys/app/s/?wait=true&recursive=true&stream=true', BOB);
    try {
      await eventually('both watches registered', () => call(url, 'GET', '/v2/stats/store'), (a) => (JSON.parse(a.body) as { watchers: number }).watchers >= 2);
      await expect('PUT', '/v2/keys/app/w?value=1', 201);
      await expect('PUT', '/v2/keys/app/s/deep/k?value=1', 201);
      const [polled, streamed] = await Promise.all([poll.answer, stream.answer]);
      assert.equal(polled.status, 200);
      assert.match(polled.body, /"key":"\/app\/w"/);
      assert.equal(streamed.status, 200);
      assert.match(streamed.body, /"key":"\/app\/s\/deep\/k"/);
    } finally {
      poll.close();
      stream.close();
    }
  });

  it('etcdctl v2 and kvctl manage users and roles; kvctl recipes run as a user with prefix permissions', async () => {
    cluster = await TestCluster.start(1);
    const url = cluster.members[0]!.clientUrl;
    const etcdctl = (...args: string[]) => run('/usr/bin/etcdctl', ['--endpoints', url, ...args], { env: { PATH: '/usr/bin:/bin', ETCDCTL_API: '2' } });
    const kvctl = (args: readonly string[], user?: string) => run(KVCTL_BIN, ['--endpoints', url, ...args], { env: { PATH: '/usr/bin:/bin', ...(user !== undefined ? { KVCTL_USER: user } : {}) } });
    const ok = async (result: Promise<{ code: number; stdout: string; stderr: string }>, what: string) => {
      const r = await result;
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      return r.stdout;
    };
    await ok(etcdctl('user', 'add', 'root:rootpw'), 'etcdctl user add root');
    await ok(etcdctl('role', 'add', 'recipes'), 'etcdctl role add');
    await ok(etcdctl('role', 'grant', 'recipes', '--path', '/_kvctl/*', '--rw'), 'etcdctl role grant');
    assert.match(await ok(etcdctl('role', 'get', 'recipes'), 'etcdctl role get'), /KV Read:\s+\/_kvctl\/\*\s+KV Write:\s+\/_kvctl\/\*/);
    await ok(etcdctl('user', 'add', 'amy:amypw'), 'etcdctl user add amy');
    await ok(etcdctl('user', 'grant', 'amy', '--roles', 'recipes'), 'etcdctl user grant');
    assert.match(await ok(etcdctl('user', 'get', 'amy'), 'etcdctl user get'), /Roles:\s+recipes/);
    await ok(etcdctl('auth', 'enable'), 'etcdctl auth enable');
    assert.notEqual((await etcdctl('user', 'list')).code, 0, 'etcdctl user list without credentials is refused');
    assert.deepEqual((await ok(etcdctl('--username', ROOT, 'user', 'list'), 'etcdctl user list')).trim().split('\n'), ['amy', 'root']);
    assert.deepEqual((await ok(etcdctl('--username', ROOT, 'role', 'list'), 'etcdctl role list')).trim().split('\n'), ['guest', 'recipes', 'root']);
    await ok(etcdctl('--username', ROOT, 'role', 'revoke', 'guest', '--path', '/*', '--rw'), 'etcdctl role revoke');
    // kvctl's own commands, as root.
    await ok(kvctl(['role', 'add', 'svc'], ROOT), 'kvctl role add');
    await ok(kvctl(['role', 'grant', 'svc', '--readwrite', '/services/*', '/app/*'], ROOT), 'kvctl role grant');
    await ok(kvctl(['user', 'grant', 'amy', 'svc'], ROOT), 'kvctl user grant');
    assert.match(await ok(kvctl(['user', 'get', 'amy'], ROOT), 'kvctl user get'), /Roles: recipes svc/);
    assert.match(await ok(kvctl(['auth', 'status'], ROOT), 'kvctl auth status'), /Authentication Enabled/);
    const refused = await kvctl(['user', 'list'], 'amy:amypw');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /needs a user with the root role/);
    // The recipes, as amy.
    assert.match(await ok(kvctl(['lock', 'build', '--', 'echo', 'held'], 'amy:amypw'), 'kvctl lock'), /held/);
    await ok(kvctl(['queue', 'push', 'app/jobs', 'j1'], 'amy:amypw'), 'kvctl queue push');
    assert.match(await ok(kvctl(['queue', 'pop', 'app/jobs'], 'amy:amypw'), 'kvctl queue pop'), /j1/);
    for (const args of [['elect', 'sched', 'me'], ['register', 'web', 'web-1', '10.0.0.5:80']]) {
      const running = background(KVCTL_BIN, ['--endpoints', url, ...args], { PATH: '/usr/bin:/bin', KVCTL_USER: 'amy:amypw' });
      try {
        await running.waitFor(args[0] === 'elect' ? /^me$/m : /registered/, 15_000);
      } finally {
        await running.stop('SIGTERM');
      }
    }
    // A refusal names the permission.
    const denied = await kvctl(['put', '/elsewhere', 'x'], 'amy:amypw');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /needs write permission on \/elsewhere/);
    await ok(kvctl(['user', 'passwd', 'amy:newpw'], ROOT), 'kvctl user passwd');
    assert.notEqual((await kvctl(['get', '/app/none'], 'amy:amypw')).stderr.match(/110/), null, 'the old password is refused');
    await ok(etcdctl('--username', ROOT, 'user', 'revoke', 'amy', '--roles', 'svc'), 'etcdctl user revoke');
    await ok(etcdctl('--username', ROOT, 'user', 'remove', 'amy'), 'etcdctl user remove');
    await ok(kvctl(['role', 'remove', 'svc'], ROOT), 'kvctl role remove');
    await ok(etcdctl('--username', ROOT, 'auth', 'disable'), 'etcdctl auth disable');
    assert.deepEqual((await ok(kvctl(['user', 'list']), 'kvctl user list')).trim().split('\n'), ['root']);
  });
});
