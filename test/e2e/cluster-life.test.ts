import assert from 'node:assert/strict';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { KVCTL_BIN, requireBinary, run } from '../helpers/binary.ts';
import type { ClusterMember } from '../helpers/cluster.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { waitUntil } from '../helpers/trees.ts';

async function put(endpoint: string, key: string, value: string): Promise<number> {
  const response = await fetch(`${endpoint}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value }), headers: { 'content-type': 'application/x-www-form-urlencoded' }, signal: AbortSignal.timeout(15_000) });
  return response.status;
}

async function leaderOf(endpoint: string): Promise<{ id: string; name: string } | undefined> {
  const response = await fetch(`${endpoint}/v2/members/leader`).catch(() => undefined);
  return response?.ok ? ((await response.json()) as { id: string; name: string }) : undefined;
}

async function memberIds(endpoint: string): Promise<Array<{ id: string; name: string; isLearner?: boolean }>> {
  return ((await (await fetch(`${endpoint}/v2/members`)).json()) as { members: Array<{ id: string; name: string; isLearner?: boolean }> }).members;
}

/** Writers that keep writing unique keys to the given members until stopped; every 201 is recorded. */
function writers(endpoints: () => readonly string[], count: number) {
  const acknowledged: string[] = [];
  let stop = false;
  const loops = Array.from({ length: count }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const list = endpoints();
      const endpoint = list[(w + i) % list.length]!;
      const key = `/load/w${w}-${i}`;
      try {
        if ((await put(endpoint, key, 'x')) === 201) acknowledged.push(key);
      } catch {
        // not acknowledged (the member died or the request timed out)
      }
    }
  });
  return {
    acknowledged,
    /** Resolves once `count` more writes than now are acknowledged: the load runs (again). */
    progressed: (count: number) => {
      const target = acknowledged.length + count;
      return waitUntil(`${count} more acknowledged writes`, () => acknowledged.length >= target, 30_000);
    },
    stop: async () => ((stop = true), await Promise.all(loops)),
  };
}

async function assertAllPresent(endpoint: string, keys: readonly string[]): Promise<void> {
  const listing = (await (await fetch(`${endpoint}/v2/keys/load?quorum=true`)).json()) as { node?: { nodes?: Array<{ key: string }> } };
  const present = new Set((listing.node?.nodes ?? []).map((n) => n.key));
  const lost = keys.filter((k) => !present.has(k));
  assert.deepEqual(lost, [], `${lost.length} of ${keys.length} acknowledged writes lost`);
}

async function addAndStart(cluster: TestCluster, via: ClusterMember, name: string, learner = false): Promise<ClusterMember> {
  const member = await cluster.prepare(name);
  const added = await run(KVCTL_BIN, ['--endpoints', via.clientUrl, '--timeout', '15s', 'member', 'add', name, member.peerUrl, ...(learner ? ['--learner'] : [])]);
  assert.equal(added.code, ExitCode.OK, `${added.stderr}\n${cluster.members.map((m) => `--- ${m.name}\n${m.log.split('\n').filter((l) => !l.includes('unreachable')).slice(-15).join('\n')}`).join('\n')}`);
  assert.match(added.stdout, new RegExp(`Added member named ${name} with ID [0-9a-f]{1,16} to cluster`));
  cluster.launch(member, true);
  // A voter is added only while the started members stay a quorum (etcd's strict reconfiguration):
  // the next change waits until this member has published its name.
  const deadline = Date.now() + 20_000;
  while (!(await memberIds(via.clientUrl)).some((m) => m.name === name)) {
    if (Date.now() > deadline) assert.fail(`${name} never published its name:\n${member.log.slice(-1500)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return member;
}

describe('cluster life: membership changes, failover, pre-vote', function () {
  this.timeout(180_000);
  before(() => requireBinary());

  it('grows from 1 to 5 members and shrinks to 3, removing the original leader, under a writer', async () => {
    const cluster = await TestCluster.start(1);
    const live = () => cluster.members.filter((m) => m.process !== undefined).map((m) => m.clientUrl);
    const load = writers(live, 2);
    try {
      const first = cluster.members[0]!;
      for (const name of ['m2', 'm3', 'm4', 'm5']) {
        await addAndStart(cluster, first, name);
        await cluster.waitHealthy();
      }
      assert.equal((await memberIds(first.clientUrl)).length, 5);
      const list = await run(KVCTL_BIN, ['--endpoints', first.clientUrl, 'member', 'list']);
      assert.equal(list.stdout.trim().split('\n').length, 6, list.stdout);
      // Remove the original leader (m1) and one more member.
      const ids = await memberIds(first.clientUrl);
      const idOf = (name: string) => ids.find((m) => m.name === name)!.id;
      for (const name of ['m1', 'm5']) {
        const via = cluster.members.find((m) => m.name !== name && m.process !== undefined)!;
        const removed = await run(KVCTL_BIN, ['--endpoints', via.clientUrl, '--timeout', '15s', 'member', 'remove', idOf(name)]);
        const view = removed.code === 0 ? '' : JSON.stringify(await memberIds(via.clientUrl)) + (await (await fetch(`${via.clientUrl}/v2/stats/self`)).text());
        // The logs first and the command's own error last: CI shows the end of a long message.
        assert.equal(removed.code, ExitCode.OK, `${cluster.members.map((m) => `--- ${m.name}\n${m.log.split('\n').filter((l) => !l.includes('unreachable')).slice(-12).join('\n')}`).join('\n')}\nremoving ${name} via ${via.name}: ${view}\n${removed.stderr}`);
        // A removed member stops serving by itself (it learns from the log or from a peer's 410).
        const exit = await Promise.race([cluster.member(name).closed, new Promise((resolve) => setTimeout(() => resolve('still running'), 30_000).unref())]);
        assert.equal(exit, 0, `${name} did not stop:\n${cluster.member(name).log.slice(-1500)}`);
        cluster.member(name).process = undefined;
      }
      await cluster.waitHealthy();
      await load.progressed(10);
      await load.stop();
      const survivor = cluster.member('m2').clientUrl;
      assert.deepEqual((await memberIds(survivor)).map((m) => m.name).sort(), ['m2', 'm3', 'm4']);
      await assertAllPresent(survivor, load.acknowledged);
    } finally {
      await load.stop();
      await cluster.destroy();
    }
  });

  it('a learner added under load catches up and is promoted; promotion is refused to a non-learner', async () => {
    const cluster = await TestCluster.start(3);
    const load = writers(() => cluster.members.slice(0, 3).map((m) => m.clientUrl), 2);
    try {
      await load.progressed(10);
      const learner = await addAndStart(cluster, cluster.members[0]!, 'l1', true);
      await cluster.waitHealthy();
      const id = (await memberIds(cluster.members[0]!.clientUrl)).find((m) => m.name === 'l1' || m.isLearner)!.id;
      const deadline = Date.now() + 20_000;
      let promoted;
      for (;;) {
        promoted = await run(KVCTL_BIN, ['--endpoints', cluster.members[1]!.clientUrl, 'member', 'promote', id]);
        if (promoted.code === ExitCode.OK || Date.now() > deadline) break;
        assert.equal(promoted.code, ExitCode.PRECONDITION_FAILED, promoted.stderr);
        assert.match(promoted.stderr, /in sync with leader/);
        await new Promise((resolve) => setTimeout(resolve, 200)); // a poll of the member's answer, not a wait for time
      }
      assert.equal(promoted.code, ExitCode.OK, promoted.stderr);
      assert.equal((await memberIds(learner.clientUrl)).find((m) => m.id === id)!.isLearner, undefined);
      const again = await run(KVCTL_BIN, ['--endpoints', cluster.members[1]!.clientUrl, 'member', 'promote', id]);
      assert.equal(again.code, ExitCode.REJECTED);
      assert.match(again.stderr, /is not a learner/);
      await load.stop();
      await assertAllPresent(learner.clientUrl, load.acknowledged);
    } finally {
      await load.stop();
      await cluster.destroy();
    }
  });

  it('kill -9 of the leader under load: nothing acknowledged is lost, a new leader is elected and writes resume', async () => {
    const cluster = await TestCluster.start(3);
    const live = () => cluster.members.filter((m) => m.process !== undefined).map((m) => m.clientUrl);
    const load = writers(live, 3);
    try {
      await load.progressed(10);
      const leader = cluster.member((await leaderOf(cluster.members[0]!.clientUrl))!.name);
      await cluster.kill(leader);
      const other = cluster.members.find((m) => m !== leader)!;
      // How fast a leader is elected is measured by make bench, not asserted here: only that one is.
      await waitUntil('a new leader', async () => ![undefined, leader.name].includes((await leaderOf(other.clientUrl))?.name), 30_000);
      await load.progressed(1);
      for (const m of cluster.members.filter((x) => x !== leader)) assert.equal(await put(m.clientUrl, `/resumed/${m.name}`, 'x'), 201);
      await load.stop();
      cluster.launch(leader);
      await cluster.waitHealthy();
      await assertAllPresent(leader.clientUrl, load.acknowledged);
    } finally {
      await load.stop();
      await cluster.destroy();
    }
  });

  it('kvctl member transfer-leader hands leadership over; member update changes peer URLs', async () => {
    const cluster = await TestCluster.start(3);
    try {
      const endpoint = cluster.members[0]!.clientUrl;
      const leaderName = (await leaderOf(endpoint))!.name;
      const target = (await memberIds(endpoint)).find((m) => m.name !== leaderName)!;
      const moved = await run(KVCTL_BIN, ['--endpoints', endpoint, 'member', 'transfer-leader', target.id]);
      assert.equal(moved.code, ExitCode.OK, moved.stderr);
      assert.equal(moved.stdout, `Leadership transferred to ${target.id} (${target.name})\n`);
      assert.equal((await leaderOf(endpoint))!.name, target.name);
      const other = (await memberIds(endpoint)).find((m) => m.name !== target.name)!;
      const newUrl = 'http://127.0.0.1:1';
      const updated = await run(KVCTL_BIN, ['--endpoints', endpoint, 'member', 'update', other.id, newUrl]);
      assert.equal(updated.code, ExitCode.OK, updated.stderr);
      const listed = JSON.parse((await run(KVCTL_BIN, ['--endpoints', endpoint, '-w', 'json', 'member', 'list'])).stdout) as { members: Array<{ id: string; peerURLs: string[] }> };
      assert.deepEqual(listed.members.find((m) => m.id === other.id)!.peerURLs, [newUrl]);
      const unknown = await run(KVCTL_BIN, ['--endpoints', endpoint, 'member', 'remove', 'ffffffffffff']);
      assert.equal(unknown.code, ExitCode.KEY_NOT_FOUND);
      assert.match(unknown.stderr, /No such member: ffffffffffff/);
    } finally {
      await cluster.destroy();
    }
  });

  it('a follower stopped (SIGSTOP) past the election timeout rejoins without disrupting the leader', async () => {
    const cluster = await TestCluster.start(3);
    try {
      const leaderName = (await leaderOf(cluster.members[0]!.clientUrl))!.name;
      const follower = cluster.members.find((m) => m.name !== leaderName)!;
      const termOf = async () => Number((await fetch(`${cluster.member(leaderName).clientUrl}/v2/keys/`)).headers.get('x-raft-term'));
      const termBefore = await termOf();
      follower.process!.kill('SIGSTOP');
      // A stopped process has no event to wait for: only time passes. 2 s is 4 election timeouts.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      follower.process!.kill('SIGCONT');
      // Resumed, its overdue timers run before it reads its sockets: a write through it proves it
      // has run them and follows the leader again; any campaign of its would have reached the leader.
      assert.equal(await put(follower.clientUrl, '/after-stop', 'x'), 201);
      assert.equal((await leaderOf(follower.clientUrl))?.name, leaderName);
      assert.equal(await termOf(), termBefore, 'the leader kept its term (pre-vote)');
    } finally {
      await cluster.destroy();
    }
  });
});
