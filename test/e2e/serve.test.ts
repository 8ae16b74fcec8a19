import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { KVCTL_BIN, KVD_BIN, background, requireBinary, run } from '../helpers/binary.ts';
import { TestCluster, clusterPerSuite } from '../helpers/cluster.ts';
import { freePort } from '../helpers/ports.ts';
import { rawConnection } from '../helpers/raw-http.ts';
import { waitUntil } from '../helpers/trees.ts';
import { waitForWatchers } from '../helpers/watchers.ts';

const ETCDCTL = process.env.ETCDCTL_BIN ?? '/usr/bin/etcdctl';

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

async function put(endpoint: string, key: string, form: Record<string, string>): Promise<Response> {
  return fetch(`${endpoint}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
}

describe('kvd serve: a three-member cluster', function () {
  const cluster = clusterPerSuite(3);

  it('takes writes on every member and serves them from every member', async () => {
    for (const [i, member] of cluster().members.entries()) {
      const response = await put(member.clientUrl, `/cluster/k${i}`, { value: `v${i}` });
      assert.equal(response.status, 201, await response.text());
    }
    for (const member of cluster().members) {
      const kvctl = await run(KVCTL_BIN, ['--endpoints', member.clientUrl, 'get', '-r', '--sorted', '/cluster']);
      assert.equal(kvctl.stdout, '/cluster/k0=v0\n/cluster/k1=v1\n/cluster/k2=v2\n', kvctl.stderr);
    }
  });

  it('answers with etcd\'s headers', async () => {
    const { status, headers } = await getJson(`${cluster().members[1]!.clientUrl}/v2/keys/cluster/k0?quorum=true`);
    assert.equal(status, 200);
    assert.equal(headers.get('content-type'), 'application/json');
    for (const name of ['x-etcd-index', 'x-raft-index', 'x-raft-term']) assert.match(headers.get(name) ?? '', /^\d+$/, name);
    assert.match(headers.get('x-etcd-cluster-id') ?? '', /^[1-9a-f][0-9a-f]{0,15}$/);
    const missing = await getJson(`${cluster().members[2]!.clientUrl}/v2/keys/nope/deeper`);
    assert.equal(missing.status, 404);
    assert.deepEqual({ ...missing.body, index: 0 }, { errorCode: 100, message: 'Key not found', cause: '/nope', index: 0 });
    assert.equal(missing.headers.get('x-raft-index'), null);
  });

  it('reports leader and self stats as etcd does', async () => {
    const leaderName = (await getJson(`${cluster().members[0]!.clientUrl}/v2/members/leader`)).body.name as string;
    const leader = cluster().member(leaderName);
    const follower = cluster().members.find((m) => m !== leader)!;
    const stats = await getJson(`${leader.clientUrl}/v2/stats/leader`);
    const followers = stats.body.followers as Record<string, { latency: Record<string, number>; counts: Record<string, number> }>;
    assert.equal(Object.keys(followers).length, 2);
    for (const f of Object.values(followers)) {
      assert.deepEqual(Object.keys(f.latency), ['current', 'average', 'standardDeviation', 'minimum', 'maximum']);
      assert.ok(f.counts.success! > 0);
    }
    assert.equal((await getJson(`${follower.clientUrl}/v2/stats/leader`)).status, 403);
    const self = await getJson(`${follower.clientUrl}/v2/stats/self`);
    assert.equal(self.body.state, 'StateFollower');
    assert.ok((self.body.recvAppendRequestCnt as number) > 0);
  });

  it('says in /metrics alone who the member is, since when, its data size, and client requests without monitors\' own', async () => {
    const member = cluster().members[1]!;
    const self = await getJson(`${member.clientUrl}/v2/stats/self`);
    const scrape = async () => (await fetch(`${member.clientUrl}/metrics`)).text();
    const text = await scrape();
    const info = new RegExp(`^kvd_member_info\\{id="${String(self.body.id)}",name="${member.name}",cluster_id="${self.headers.get('x-etcd-cluster-id') ?? (await getJson(`${member.clientUrl}/v2/keys/`)).headers.get('x-etcd-cluster-id')}",version="[^"]+"\\} 1$`, 'm');
    assert.match(text, info);
    const started = Number(/^process_start_time_seconds (\S+)$/m.exec(text)?.[1]);
    assert.ok(started * 1000 <= Date.now() && started * 1000 >= Date.parse(String((self.body.leaderInfo as { startTime: string }).startTime)) - 60_000, `${started}`);
    const requests = async () => Number(/^kvd_http_requests_total\{method="GET",code="200"\} (\d+)$/m.exec(await scrape())?.[1] ?? 0);
    const before = await requests();
    for (let i = 0; i < 3; i++) await fetch(`${member.clientUrl}/health`).then((r) => r.text());
    assert.equal(await requests(), before, '/health and /metrics are not counted');
    await fetch(`${member.clientUrl}/v2/keys/`).then((r) => r.text());
    assert.equal(await requests(), before + 1);
    const sizeNow = async () => Number(/^kvd_data_dir_size_bytes (\d+)$/m.exec(await scrape())?.[1]);
    const deadline = Date.now() + 15_000;
    while ((await sizeNow()) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok((await sizeNow()) > 0, 'the data dir has a size');
  });

  it('fires watches on every member, long-poll and stream', async () => {
    const start = Number((await fetch(`${cluster().members[0]!.clientUrl}/v2/keys/?quorum=true`)).headers.get('x-etcd-index')) + 1;
    const polls = cluster().members.map((m) => fetch(`${m.clientUrl}/v2/keys/watched?wait=true&waitIndex=${start}`).then((r) => r.json()));
    const stream = await fetch(`${cluster().members[0]!.clientUrl}/v2/keys/watched?wait=true&stream=true`);
    await waitForWatchers(cluster().endpoints, 4, 'the three polls and the stream to be registered');
    await put(cluster().members[2]!.clientUrl, '/watched', { value: 'one' });
    await put(cluster().members[1]!.clientUrl, '/watched', { value: 'two' });
    for (const event of await Promise.all(polls)) assert.equal((event as { node: { value: string } }).node.value, 'one');
    const reader = stream.body!.getReader();
    let text = '';
    while (text.split('\n').length < 3) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    assert.deepEqual(text.trim().split('\n').map((l) => (JSON.parse(l) as { node: { value: string } }).node.value), ['one', 'two']);
  });

  it('frames stream chunks by their bytes (HTTP/1.1), and writes plain lines to an HTTP/1.0 client', async () => {
    const rawWatch = (version: string) => rawConnection(cluster().members[1]!.clientUrl, `GET /v2/keys/framed?wait=true&stream=true ${version}\r\nHost: kvd\r\n\r\n`);
    const chunked = rawWatch('HTTP/1.1');
    const plain = rawWatch('HTTP/1.0');
    await waitForWatchers(cluster().members[1]!.clientUrl, 2, 'both raw watches to be registered');
    const values = ['ключ ✓', 'ascii'];
    for (const value of values) await put(cluster().members[0]!.clientUrl, '/framed', { value });
    // The last event's value, and then the end of its chunk (HTTP/1.1) or of its line (HTTP/1.0).
    const ended = (received: Buffer, end: string) => received.toString().includes('"value":"ascii"') && received.toString().endsWith(end);
    await waitUntil('both events on the HTTP/1.1 stream', () => ended(chunked.received(), '}\n\r\n'));
    await waitUntil('both events on the HTTP/1.0 stream', () => ended(plain.received(), '}\n'));
    chunked.socket.destroy();
    plain.socket.destroy();
    const bytes = chunked.received();
    const head = bytes.toString('latin1', 0, bytes.indexOf('\r\n\r\n'));
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /\r\ntransfer-encoding: chunked/i);
    let at = bytes.indexOf('\r\n\r\n') + 4;
    for (const value of values) {
      const sizeEnd = bytes.indexOf('\r\n', at);
      const size = Number.parseInt(bytes.toString('latin1', at, sizeEnd), 16);
      const line = bytes.subarray(sizeEnd + 2, sizeEnd + 2 + size).toString('utf8');
      assert.ok(line.endsWith('\n'), `a chunk is one whole event line: ${JSON.stringify(line)}`);
      assert.equal((JSON.parse(line) as { node: { value: string } }).node.value, value);
      assert.equal(bytes.toString('latin1', sizeEnd + 2 + size, sizeEnd + 4 + size), '\r\n');
      at = sizeEnd + 4 + size;
    }
    const body = plain.received().toString('utf8').split('\r\n\r\n')[1]!;
    assert.deepEqual(body.trim().split('\n').map((l) => (JSON.parse(l) as { node: { value: string } }).node.value), values);
  });

  it('expires TTL keys on every member at the same index', async () => {
    const set = (await (await put(cluster().members[0]!.clientUrl, '/ttl', { value: 'x', ttl: '1' })).json()) as { node: { modifiedIndex: number } };
    // From the index after the set: a member that has not applied the set yet must not report it.
    const after = set.node.modifiedIndex + 1;
    const expiries = cluster().members.map((m) => getJson(`${m.clientUrl}/v2/keys/ttl?wait=true&waitIndex=${after}`));
    const events = await Promise.all(expiries);
    const indexes = events.map((e) => (e.body.node as { modifiedIndex: number }).modifiedIndex);
    assert.deepEqual(events.map((e) => e.body.action), ['expire', 'expire', 'expire']);
    assert.equal(new Set(indexes).size, 1, `expired at ${indexes.join(', ')}`);
  });

  it('is driven by etcdctl (ETCDCTL_API=2): set, get, mk, mkdir, update, ls, rm, watch, member list, cluster-health', async () => {
    const etcdctl = (...args: string[]) => run(ETCDCTL, ['--endpoints', cluster().members[0]!.clientUrl, ...args], { env: { ETCDCTL_API: '2' } });
    assert.equal((await etcdctl('set', '/ctl/a', '1')).stdout, '1\n');
    assert.equal((await etcdctl('get', '/ctl/a')).stdout, '1\n');
    assert.equal((await etcdctl('mk', '/ctl/b', '2')).stdout, '2\n');
    assert.notEqual((await etcdctl('mk', '/ctl/b', '3')).code, 0);
    assert.equal((await etcdctl('mkdir', '/ctl/d')).code, 0);
    assert.equal((await etcdctl('update', '/ctl/a', '11')).stdout, '11\n');
    assert.equal((await etcdctl('ls', '-r', '--sort', '/ctl')).stdout, '/ctl/a\n/ctl/b\n/ctl/d\n');
    assert.equal((await etcdctl('rm', '/ctl/b')).code, 0);
    const now = (await fetch(`${cluster().members[0]!.clientUrl}/v2/keys/`)).headers.get('x-etcd-index')!;
    const watch = etcdctl('watch', '--after-index', now, '/ctl/a');
    await etcdctl('set', '/ctl/a', 'watched');
    assert.equal((await watch).stdout, 'watched\n');
    const members = await etcdctl('member', 'list');
    assert.equal(members.stdout.trim().split('\n').length, 3);
    assert.equal(members.stdout.match(/isLeader=true/g)?.length, 1);
    assert.match((await etcdctl('cluster-health')).stdout, /cluster is healthy/);
  });
});

describe('kvd serve: five members, lost quorum, foreign peers', function () {
  it('a five-member cluster bootstraps, elects a leader, and replicates', async () => {
    requireBinary();
    const cluster = await TestCluster.start(5);
    try {
      for (const [i, member] of cluster.members.entries()) assert.equal((await put(member.clientUrl, `/five/${i}`, { value: String(i) })).status, 201);
      for (const member of cluster.members) {
        const listing = await getJson(`${member.clientUrl}/v2/keys/five?quorum=true`);
        assert.equal((listing.body.node as { nodes: unknown[] }).nodes.length, 5, member.name);
      }
      const leaders = await Promise.all(cluster.members.map((m) => getJson(`${m.clientUrl}/v2/members/leader`)));
      assert.equal(new Set(leaders.map((l) => l.body.id)).size, 1, 'every member names the same leader');
    } finally {
      await cluster.destroy();
    }
  });

  it('without a quorum a write fails with etcd\'s timeout error instead of hanging', async () => {
    requireBinary();
    const cluster = await TestCluster.start(3);
    try {
      await cluster.kill(cluster.members[1]!);
      await cluster.kill(cluster.members[2]!);
      // That it answers at all is the point (a hang fails on the test's timeout); how soon is not asserted.
      const response = await put(cluster.members[0]!.clientUrl, '/no-quorum', { value: 'x' });
      assert.equal(response.status, 500);
      const body = (await response.json()) as Record<string, unknown>;
      assert.deepEqual([body.errorCode, body.message, body.cause], [300, 'Raft Internal Error', 'etcdserver: request timed out']);
    } finally {
      await cluster.destroy();
    }
  });

  it('refuses Raft messages from a member of another cluster', async () => {
    requireBinary();
    const cluster = await TestCluster.start(1);
    try {
      const response = await fetch(`${cluster.members[0]!.peerUrl}/raft`, {
        method: 'POST',
        headers: { 'x-etcd-cluster-id': '00000000deadbeef', 'content-type': 'application/octet-stream' },
        body: new Uint8Array([0, 0, 0, 0]),
      });
      assert.equal(response.status, 412);
      await cluster.waitForLog(cluster.members[0]!, /refused a peer of another cluster/);
    } finally {
      await cluster.destroy();
    }
  });
});

describe('kvd serve: durability', function () {
  it('kill -9 of every member under a writer loses no acknowledged write', async () => {
    requireBinary();
    const cluster = await TestCluster.start(3);
    try {
      const acknowledged: number[] = [];
      let stop = false;
      const writer = (async () => {
        for (let i = 0; !stop; i++) {
          const endpoint = cluster.members[i % 3]!.clientUrl;
          try {
            const response = await put(endpoint, `/durable/${i}`, { value: String(i) });
            if (response.status === 201) acknowledged.push(i);
          } catch {
            // a member died mid-request: not acknowledged
          }
        }
      })();
      await waitUntil('some writes acknowledged', () => acknowledged.length > 10);
      await Promise.all(cluster.members.map((m) => cluster.kill(m, 'SIGKILL')));
      stop = true;
      await writer;
      for (const member of cluster.members) cluster.launch(member);
      await cluster.waitHealthy();
      const listing = await getJson(`${cluster.members[1]!.clientUrl}/v2/keys/durable?quorum=true`);
      const present = new Set(((listing.body.node as { nodes?: Array<{ key: string }> }).nodes ?? []).map((n) => n.key));
      const lost = acknowledged.filter((i) => !present.has(`/durable/${i}`));
      assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged writes lost`);
    } finally {
      await cluster.destroy();
    }
  });

  it('a member down across several compactions catches up by snapshot; its store equals the leader\'s', async () => {
    requireBinary();
    const cluster = await TestCluster.start(3, ['--snapshot-count', '20', '--snapshot-catchup-entries', '5']);
    try {
      const [a, b, c] = cluster.members as [typeof cluster.members[0], typeof cluster.members[0], typeof cluster.members[0]];
      await cluster.kill(c);
      for (let i = 0; i < 120; i++) {
        const response = await put(i % 2 === 0 ? a.clientUrl : b.clientUrl, `/snap/k${i}`, { value: String(i) });
        assert.equal(response.status, 201, `write ${i}: ${await response.text()}\n${a.log}\n${b.log}`);
      }
      await cluster.waitForLog(a, /snapshot saved/);
      cluster.launch(c);
      await cluster.waitHealthy();
      const deadline = Date.now() + 15_000;
      for (;;) {
        const [fromA, fromC] = await Promise.all([getJson(`${a.clientUrl}/v2/keys/snap?recursive=true&sorted=true`), getJson(`${c.clientUrl}/v2/keys/snap?recursive=true&sorted=true`)]);
        if (JSON.stringify(fromA.body) === JSON.stringify(fromC.body)) break;
        if (Date.now() > deadline) assert.deepEqual(fromC.body, fromA.body);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await cluster.waitForLog(c, /installed a snapshot from the leader/);
      // It goes on with the cluster afterwards.
      assert.equal((await put(c.clientUrl, '/snap/after', { value: 'x' })).status, 201);
    } finally {
      await cluster.destroy();
    }
  });

  it('kill -9 of every member after many incremental snapshots: each restarts with the same store, order and index', async () => {
    requireBinary();
    const cluster = await TestCluster.start(3, ['--snapshot-count', '25', '--snapshot-catchup-entries', '5']);
    try {
      const [a, b, c] = cluster.members as [typeof cluster.members[0], typeof cluster.members[0], typeof cluster.members[0]];
      const endpoints = [a.clientUrl, b.clientUrl, c.clientUrl];
      const send = async (i: number, method: string, key: string, form: Record<string, string> = {}) => {
        const response = await fetch(`${endpoints[i % 3]}/v2/keys${key}`, { method, body: method === 'DELETE' ? null : new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        assert.ok(response.status < 300, `${method} ${key}: ${response.status} ${await response.text()}`);
      };
      // Overwrites, directories made and removed (and made again), TTLs, in-order keys, deletes.
      for (let i = 0; i < 160; i++) {
        await send(i, 'PUT', `/img/k${i % 17}`, { value: `v${i}` });
        if (i % 10 === 3) await send(i, 'PUT', `/img/d${i % 3}/x${i}`, { value: String(i) });
        if (i % 30 === 29) await send(i, 'DELETE', `/img/d${i % 3}?recursive=true`);
        if (i % 15 === 7) await send(i, 'PUT', `/img/ttl${i}`, { value: 't', ttl: '600' });
        if (i % 12 === 5) await send(i, 'POST', '/img/queue', { value: `job${i}` });
        if (i % 20 === 11) await send(i, 'DELETE', `/img/k${(i - 1) % 17}`);
      }
      await cluster.waitForLog(a, /snapshot saved .*written=\d+ removed=\d+/);
      const listing = async (endpoint: string) => {
        const response = await fetch(`${endpoint}/v2/keys/img?recursive=true`);
        // (A TTL's seconds left go down as time passes; its expiration stays.)
        return { index: response.headers.get('x-etcd-index'), body: (await response.text()).replace(/"ttl":\d+,/g, '') };
      };
      const before = await listing(a.clientUrl);
      for (const endpoint of endpoints) assert.deepEqual(await listing(endpoint), before);
      await Promise.all(cluster.members.map((m) => cluster.kill(m)));
      for (const member of cluster.members) cluster.launch(member);
      await cluster.waitHealthy();
      for (const endpoint of endpoints) assert.deepEqual(await listing(endpoint), before, `after restart, ${endpoint}`);
      await send(0, 'PUT', '/img/after', { value: 'x' });
    } finally {
      await cluster.destroy();
    }
  });

  it('SIGTERM of the leader hands leadership over; the others go on', async () => {
    requireBinary();
    const cluster = await TestCluster.start(3);
    try {
      const leaderId = (await getJson(`${cluster.members[0]!.clientUrl}/v2/members/leader`)).body.name as string;
      const leader = cluster.member(leaderId);
      assert.equal(await cluster.kill(leader, 'SIGTERM'), 0);
      assert.match(leader.log, /leadership transferred/);
      const other = cluster.members.find((m) => m !== leader)!;
      assert.equal((await put(other.clientUrl, '/after-leader', { value: 'x' })).status, 201);
    } finally {
      await cluster.destroy();
    }
  });

  it('SIGTERM stops a member with exit code 0', async () => {
    requireBinary();
    const cluster = await TestCluster.start(1);
    try {
      assert.equal(await cluster.kill(cluster.members[0]!, 'SIGTERM'), 0);
      assert.match(cluster.members[0]!.log, /stopped/);
    } finally {
      await cluster.destroy();
    }
  });
});

describe('kvd serve: bad flags end with one clear message and a non-zero exit', () => {
  let dir: string;
  before(async () => {
    requireBinary();
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-flags-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const cases: Array<[string, string[], RegExp]> = [
    ['a malformed URL', ['--listen-client-urls', 'not a url'], /--listen-client-urls: "not a url" is not a URL/],
    ['a name missing from --initial-cluster', ['--name', 'x', '--initial-cluster', 'y=http://127.0.0.1:1'], /--initial-cluster: has no member named "x"/],
    ['an election timeout too short', ['--heartbeat-interval', '100', '--election-timeout', '200'], /--election-timeout \(200 ms\) must be at least 5 times/],
  ];
  for (const [what, flags, message] of cases) {
    it(what, async () => {
      const result = await run(KVD_BIN, ['serve', '--data-dir', path.join(dir, 'd'), ...flags], { cwd: dir });
      assert.equal(result.code, ExitCode.USAGE);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').filter((l) => l.startsWith('Error')).length, 1);
    });
  }

  it('a request body over --max-request-bytes gets 400 (210, as etcd over its form limit), and the member goes on', async () => {
    const small = await TestCluster.start(1, ['--max-request-bytes', '1024']);
    try {
      const big = await put(small.members[0]!.clientUrl, '/big', { value: 'x'.repeat(2048) });
      assert.equal(big.status, 400);
      assert.equal(((await big.json()) as { cause: string }).cause, 'http: POST too large');
      assert.equal((await put(small.members[0]!.clientUrl, '/small', { value: 'x' })).status, 201);
    } finally {
      await small.destroy();
    }
  });

  it('a flag given twice takes its last value, as etcd\'s flags do', async () => {
    const twice = await TestCluster.start(1, ['--log-level', 'error', '--log-level', 'info']);
    try {
      await twice.waitForLog(twice.members[0]!, /INFO\s+member started/);
    } finally {
      await twice.destroy();
    }
  });

  it('a data dir that belongs to another member', async () => {
    const cluster = await TestCluster.start(1);
    try {
      await cluster.kill(cluster.members[0]!, 'SIGTERM');
      const other = await run(KVD_BIN, ['serve', '--name', 'someone-else', '--data-dir', cluster.members[0]!.dataDir, '--listen-client-urls', `http://127.0.0.1:${await freePort()}`, '--listen-peer-urls', `http://127.0.0.1:${await freePort()}`], { cwd: dir });
      assert.equal(other.code, ExitCode.USAGE);
      assert.match(other.stderr, /belongs to member "m1" .* not to "someone-else"; give this member its own --data-dir/);
    } finally {
      await cluster.destroy();
    }
  });

  it('a port in use', async () => {
    const busy = await TestCluster.start(1);
    try {
      const peer = `http://127.0.0.1:${await freePort()}`;
      const result = await run(KVD_BIN, ['serve', '--data-dir', path.join(dir, 'busy'), '--listen-client-urls', busy.members[0]!.clientUrl, '--listen-peer-urls', peer], { cwd: dir });
      assert.equal(result.code, ExitCode.USAGE);
      assert.match(result.stderr, /cannot listen for clients on http:\/\/127\.0\.0\.1:\d+: address already in use/);
    } finally {
      await busy.destroy();
    }
  });

  for (const taken of ['clients', 'peers'] as const) {
    it(`a ${taken === 'clients' ? 'client' : 'peer'} port in use leaves an absent data dir absent, with one line naming the port`, async () => {
      const holder = net.createServer();
      const port = await freePort();
      await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
      try {
        const takenUrl = `http://127.0.0.1:${port}`;
        const freeUrl = `http://127.0.0.1:${await freePort()}`;
        const dataDir = path.join(dir, `never-${taken}`);
        const [client, peer] = taken === 'clients' ? [takenUrl, freeUrl] : [freeUrl, takenUrl];
        const result = await run(KVD_BIN, ['serve', '--data-dir', dataDir, '--listen-client-urls', client, '--listen-peer-urls', peer], { cwd: dir });
        assert.equal(result.code, ExitCode.USAGE);
        const errors = result.stderr.split('\n').filter((l) => l.startsWith('Error'));
        assert.equal(errors.length, 1, result.stderr);
        assert.match(errors[0]!, new RegExp(`cannot listen for ${taken} on http://127\\.0\\.0\\.1:${port}: address already in use`));
        assert.equal(existsSync(dataDir), false, `${dataDir} was created`);
      } finally {
        await new Promise((resolve) => holder.close(resolve));
      }
    });
  }

  it('answers 503 on its bound ports until the member is ready (here: a join that waits for a silent peer)', async () => {
    const silent = net.createServer(() => undefined);
    const silentPort = await freePort();
    await new Promise<void>((resolve) => silent.listen(silentPort, '127.0.0.1', resolve));
    const client = `http://127.0.0.1:${await freePort()}`;
    const peer = `http://127.0.0.1:${await freePort()}`;
    const joining = background(KVD_BIN, ['serve', '--name', 'j', '--data-dir', path.join(dir, 'joining'), '--listen-client-urls', client, '--listen-peer-urls', peer, '--initial-cluster', `j=${peer},s=http://127.0.0.1:${silentPort}`, '--initial-cluster-state', 'existing']);
    try {
      let answer: Response | undefined;
      while (answer === undefined && joining.child.exitCode === null) {
        answer = await fetch(`${client}/health`).catch(() => undefined);
        if (answer === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(answer !== undefined, `never answered: ${joining.stderr}`);
      assert.equal(answer.status, 503);
      assert.equal(await answer.text(), 'starting\n');
      const fromPeerPort = await fetch(`${peer}/members`);
      assert.equal(fromPeerPort.status, 503);
      assert.equal(await joining.closed, ExitCode.USAGE, joining.stderr);
      assert.match(joining.stderr, /cannot join the existing cluster/);
    } finally {
      await joining.stop('SIGKILL');
      silent.close();
    }
  });

  it('warns once when --initial-advertise-peer-urls differs from the peer URLs the data dir records, not when the flag is left out', async () => {
    const cluster = await TestCluster.start(1);
    const [first] = cluster.members;
    const restarts: Array<ReturnType<typeof background>> = [];
    try {
      await cluster.kill(first!, 'SIGTERM');
      assert.equal(first!.log.includes('peer URLs'), false, 'no warning on the first start');
      /** Starts the member again with another peer URL, and resolves with its log once it answers healthy. */
      const restart = async (withFlag: boolean): Promise<{ log: string; peerUrl: string }> => {
        const peerUrl = `http://127.0.0.1:${await freePort()}`;
        const flags = withFlag ? ['--initial-advertise-peer-urls', peerUrl] : [];
        const member = background(KVD_BIN, ['serve', '--name', first!.name, '--data-dir', first!.dataDir, '--listen-client-urls', first!.clientUrl, '--listen-peer-urls', peerUrl, '--initial-cluster', `${first!.name}=${peerUrl}`, ...flags]);
        restarts.push(member);
        const deadline = Date.now() + 20_000;
        while (!(await cluster.answersHealthy(first!.clientUrl)) || !/member started/.test(member.stderr)) {
          if (Date.now() > deadline || member.child.exitCode !== null) throw new Error(`not healthy:\n${member.stderr}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(await member.stop('SIGTERM'), 0, member.stderr);
        return { log: member.stderr, peerUrl };
      };
      const moved = await restart(true);
      const warnings = moved.log.split('\n').filter((l) => l.includes('peer URLs'));
      assert.equal(warnings.length, 1, moved.log);
      assert.ok(warnings[0]!.includes(`records this member's peer URLs as ${first!.peerUrl}, not ${moved.peerUrl} as --initial-advertise-peer-urls says`), warnings[0]);
      assert.match(warnings[0]!, new RegExp(`kvctl member update [0-9a-f]{1,16} ${moved.peerUrl}$`));
      const unflagged = await restart(false);
      assert.equal(unflagged.log.includes('peer URLs'), false, unflagged.log);
    } finally {
      for (const member of restarts) await member.stop('SIGKILL');
      await cluster.destroy();
    }
  });
});
