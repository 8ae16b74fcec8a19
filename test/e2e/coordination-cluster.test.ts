import assert from 'node:assert/strict';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { KVCTL_BIN, background, requireBinary, run } from '../helpers/binary.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { startEtcd } from '../helpers/etcd.ts';

interface ThreeMembers {
  readonly endpoints: readonly string[];
  /** SIGKILLs member `index`. */
  kill(index: number): Promise<void>;
  stop(): Promise<void>;
}

const CLUSTERS: Array<{ name: string; start: () => Promise<ThreeMembers> }> = [
  {
    name: 'etcd 3.4',
    start: async () => {
      const etcd = await startEtcd(3);
      return { endpoints: etcd.endpoints, kill: async (i) => etcd.kill(i), stop: () => etcd.stop() };
    },
  },
  {
    name: 'kvd',
    start: async () => {
      const cluster = await TestCluster.start(3);
      return { endpoints: cluster.members.map((m) => m.clientUrl), kill: async (i) => void (await cluster.kill(cluster.members[i]!)), stop: () => cluster.destroy() };
    },
  },
];

/** Creates `key` exactly once: a create retried after it applied answers 105, which counts as done. */
async function createOnce(endpoints: readonly string[], key: string, value: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const endpoint = endpoints[attempt % endpoints.length]!;
    try {
      const response = await fetch(`${endpoint}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value, prevExist: 'false' }), headers: { 'content-type': 'application/x-www-form-urlencoded' }, signal: AbortSignal.timeout(3000) });
      if (response.status === 201 || response.status === 412) return;
    } catch {
      // that member is down or busy electing: the next one
    }
    if (attempt > 200) throw new Error(`could not create ${key}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const { name, start } of CLUSTERS) {
  describe(`kvctl against a 3-member ${name} cluster`, function () {
    this.timeout(120_000);
    let cluster: ThreeMembers;
    before(async () => {
      requireBinary();
      cluster = await start();
    });
    after(async () => cluster?.stop());

    it('watch misses and duplicates no event of 1,000 writes while its endpoint is killed', async () => {
      // From the current index: the watch sees every write however late the process starts.
      const now = (await fetch(`${cluster.endpoints[0]}/v2/keys/`)).headers.get('x-etcd-index')!;
      const watcher = background(KVCTL_BIN, ['--endpoints', cluster.endpoints.join(','), 'watch', '-r', '/fo', '--count', '1000', '-w', 'json', '--after-index', now]);
      const writers = cluster.endpoints.slice(1);
      for (let i = 0; i < 1000; i++) {
        await createOnce(writers, `/fo/${i}`, String(i));
        // The watcher's endpoint (the first) dies a third of the way through.
        if (i === 333) await cluster.kill(0);
      }
      const code = await Promise.race([watcher.closed, new Promise((resolve) => setTimeout(() => resolve('still running'), 30_000).unref())]);
      assert.equal(code, 0, `${watcher.stderr}\n${watcher.stdout.split('\n').length} lines`);
      const events = watcher.stdout.trim().split('\n').map((line) => JSON.parse(line) as { action: string; node: { key: string; modifiedIndex: number } });
      assert.equal(events.length, 1000);
      assert.deepEqual(events.map((e) => e.node.key), Array.from({ length: 1000 }, (_, i) => `/fo/${i}`), 'every write once, in order');
      assert.ok(events.every((e, i) => e.action === 'create' && (i === 0 || e.node.modifiedIndex > events[i - 1]!.node.modifiedIndex)));
    });

    it('endpoint health and status --cluster report the dead member as down (exit 4)', async () => {
      const health = await run(KVCTL_BIN, ['--endpoints', cluster.endpoints[1]!, 'endpoint', 'health', '--cluster']);
      assert.equal(health.code, ExitCode.UNAVAILABLE);
      const lines = health.stdout.trim().split('\n');
      assert.equal(lines.length, 3);
      assert.equal(lines.filter((l) => / is healthy: took [\d.]+ms$/.test(l)).length, 2, health.stdout);
      assert.match(health.stdout, new RegExp(`${cluster.endpoints[0]} is unhealthy: .*ECONNREFUSED`));
      const status = await run(KVCTL_BIN, ['--endpoints', cluster.endpoints.slice(1).join(','), 'endpoint', 'status', '-w', 'json']);
      assert.equal(status.code, 0, status.stderr);
      const members = JSON.parse(status.stdout) as Array<{ isLeader: boolean; raftTerm: number; id: string }>;
      assert.equal(members.filter((m) => m.isLeader).length <= 1, true);
      assert.ok(members.every((m) => m.raftTerm >= 2 && /^[0-9a-f]+$/.test(m.id)));
    });

    it('status prints one snapshot when stdout is not a terminal, the down member included', async () => {
      const status = await run(KVCTL_BIN, ['--endpoints', cluster.endpoints[1]!, 'status']);
      assert.equal(status.code, ExitCode.UNAVAILABLE, status.stderr);
      const lines = status.stdout.trim().split('\n');
      assert.match(lines[0]!, /^cluster [0-9a-f]+ · 2\/3 up, can lose 0 · leader \S+ \([0-9a-f]+\) · term \d+ · /);
      assert.equal(lines.length, 5);
      assert.equal(lines.slice(2).filter((l) => / up +(leader|follower) /.test(l)).length, 2, status.stdout);
      assert.equal(lines.slice(2).filter((l) => / down +- /.test(l)).length, 1, status.stdout);
      const json = JSON.parse((await run(KVCTL_BIN, ['--endpoints', cluster.endpoints[1]!, 'status', '-w', 'json'])).stdout) as { rows: Array<{ isLeader: boolean }> };
      assert.equal(json.rows.filter((r) => r.isLeader).length, 1);
    });
  });
}

describe('kvctl lock when the cluster stops answering (kvd)', function () {
  this.timeout(60_000);
  it('stops the command before the lock\'s TTL can run out on the server, and exits 6', async () => {
    requireBinary();
    const cluster = await TestCluster.start(1);
    const member = cluster.members[0]!;
    try {
      const holder = background(KVCTL_BIN, ['--endpoints', member.clientUrl, 'lock', 'cut', '--ttl', '2', '--', 'sh', '-c', 'echo held; exec sleep 30']);
      await holder.waitFor(/held\n/);
      // A member frozen in place: requests hang, as across a partition.
      member.process!.kill('SIGSTOP');
      const code = await holder.closed;
      member.process!.kill('SIGCONT');
      assert.equal(code, ExitCode.SESSION_LOST, holder.stderr);
      // Lost by its own deadline, not by an answer: when that deadline falls (before the TTL can
      // run out on the server) is asserted on a mocked clock in test/client/lease.test.ts.
      assert.match(holder.stderr, /no refresh of .* was confirmed within its TTL of 2s/);
    } finally {
      await cluster.destroy();
    }
  });
});
