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

describe('ClusterMonitor (kvctl status)', () => {
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
