import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClusterMonitor } from '../../src/client/cluster-status.ts';
import { HttpTransport } from '../../src/client/http-transport.ts';

/** A one-member cluster that, like kvd, counts every HTTP request it answers in kvd_http_requests_total. */
async function countingMember(): Promise<{ endpoint: string; close: () => Promise<void> }> {
  let requests = 0;
  const server = http.createServer((request, response) => {
    requests++;
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const bodies: Record<string, string> = {
      '/health': '{"health":"true"}',
      '/version': '{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}',
      '/v2/keys/': '{"action":"get","node":{"dir":true}}',
      '/v2/stats/self': '{"name":"m1","id":"1","state":"StateLeader","startTime":"2026-01-01T00:00:00Z","leaderInfo":{"leader":"1"}}',
      '/v2/stats/leader': '{"leader":"1","followers":{}}',
      '/v2/members': JSON.stringify({ members: [{ id: '1', name: 'm1', peerURLs: [], clientURLs: [endpoint] }] }),
      '/metrics': `kvd_http_requests_total{method="GET",code="200"} ${requests}\n`,
    };
    response.end(bodies[request.url ?? ''] ?? '{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { endpoint, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Members that, like kvd, say everything in /metrics and leave /health and /metrics out of their request counts. */
async function kvdMembers(count: number): Promise<{ endpoints: string[]; paths: string[][]; close: () => Promise<void> }> {
  const paths: string[][] = [];
  const servers: http.Server[] = [];
  const endpointOf = (server: http.Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (let i = 0; i < count; i++) {
    let requests = 0;
    const seen: string[] = [];
    paths.push(seen);
    const server = http.createServer((request, response) => {
      const path = request.url ?? '';
      seen.push(path);
      if (path !== '/metrics' && path !== '/health') requests++;
      if (path !== '/metrics') {
        const members = servers.map((s, j) => ({ id: `${j + 1}`, name: `m${j + 1}`, peerURLs: [], clientURLs: [endpointOf(s)] }));
        response.end(path === '/v2/members' ? JSON.stringify({ members }) : '{}');
        return;
      }
      const leader = i === 0;
      response.end([
        `kvd_member_info{id="${i + 1}",name="m\\"${i + 1}",cluster_id="c1",version="0.3.0"} 1`,
        'process_start_time_seconds 1767225600.5',
        `kvd_data_dir_size_bytes ${1000 * (i + 1)}`,
        'kvd_has_leader 1',
        `kvd_is_leader ${leader ? 1 : 0}`,
        ...(leader ? ['kvd_peer_round_trip_seconds{to="2"} 0.0015'] : []),
        `kvd_http_requests_total{method="GET",code="200"} ${requests}`,
        'kvd_raft_term 7',
        'kvd_raft_commit_index 40',
        'kvd_raft_applied_index 39',
        '',
      ].join('\n'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }
  return { endpoints: servers.map(endpointOf), paths, close: () => Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined) };
}

describe('ClusterMonitor (kvctl status)', () => {
  it('asks each kvd member for /metrics alone, plus the member list from one of them, and reads every figure from it', async () => {
    const cluster = await kvdMembers(2);
    const transport = new HttpTransport({ endpoints: cluster.endpoints, timeoutMs: 5000 });
    const monitor = new ClusterMonitor(transport, cluster.endpoints, 5000);
    try {
      for (let poll = 0; poll < 3; poll++) {
        const before = cluster.paths.map((p) => p.length);
        const snapshot = await monitor.poll();
        const asked = cluster.paths.map((p, i) => p.slice(before[i]).sort());
        assert.deepEqual(asked.flat().filter((p) => p !== '/metrics').sort(), ['/v2/members'], `poll ${poll}: ${JSON.stringify(asked)}`);
        for (const [i, paths] of asked.entries()) assert.equal(paths.filter((p) => p === '/metrics').length, 1, `poll ${poll}, member ${i + 1}`);
        const [leader, follower] = snapshot.rows;
        assert.equal(leader!.status!.name, 'm"1');
        assert.equal(leader!.status!.id, '1');
        assert.equal(leader!.isLeader, true);
        assert.equal(follower!.isLeader, false);
        assert.equal(snapshot.clusterId, 'c1');
        assert.equal(snapshot.term, 7);
        assert.equal(leader!.status!.serverVersion, 'kvd 0.3.0');
        assert.equal(leader!.status!.startedAt, 1767225600500);
        assert.equal(follower!.status!.dataSizeBytes, 2000);
        assert.equal(follower!.leaderLatencyMs, 1.5);
        assert.equal(follower!.lag, 1);
        if (poll > 0) assert.equal(leader!.requestsPerSecond === undefined || leader!.requestsPerSecond === 0, true, 'the member list request is the monitor\'s own');
      }
    } finally {
      monitor.close();
      transport.close();
      await cluster.close();
    }
  });

  it('leaves its own polls out of the request rate: an idle member shows 0, and others\' requests are counted', async () => {
    const member = await countingMember();
    const transport = new HttpTransport({ endpoints: [member.endpoint], timeoutMs: 5000 });
    const monitor = new ClusterMonitor(transport, [member.endpoint], 5000);
    try {
      let previous = await monitor.poll();
      for (let i = 0; i < 3; i++) {
        const next = await monitor.poll();
        if (next.rows[0]!.status!.probedAt > previous.rows[0]!.status!.probedAt) assert.equal(next.rows[0]!.requestsPerSecond, 0, `poll ${i}`);
        previous = next;
      }
      // Two polls in the same millisecond have no rate: measure again then.
      for (let measured = false; !measured; ) {
        previous = await monitor.poll();
        for (let i = 0; i < 10; i++) await fetch(`${member.endpoint}/v2/keys/`).then((r) => r.text());
        const next = await monitor.poll();
        const seconds = (next.rows[0]!.status!.probedAt - previous.rows[0]!.status!.probedAt) / 1000;
        if (seconds === 0) continue;
        assert.equal(Math.round(next.rows[0]!.requestsPerSecond! * seconds), 10);
        measured = true;
      }
    } finally {
      monitor.close();
      transport.close();
      await member.close();
    }
  });
});
