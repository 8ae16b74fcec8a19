import assert from 'node:assert/strict';
import path from 'node:path';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { requireBinary } from '../helpers/binary.ts';
import type { ClusterMember } from '../helpers/cluster.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { Tmpfs } from '../helpers/tmpfs.ts';

const VALUE = 'v'.repeat(16 * 1024);
const SMALL_DISK_KIB = 1024;
const FREED_DISK_KIB = 64 * 1024;

async function put(endpoint: string, key: string, value: string): Promise<number> {
  try {
    const response = await fetch(`${endpoint}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value }), signal: AbortSignal.timeout(15_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/**
 * Writes key after key to `member` until it exits: the keys whose writes were acknowledged. A write
 * refused while it still runs (a busy machine's election) is not a full disk: writing goes on.
 */
async function writeUntilExit(member: ClusterMember, prefix: string): Promise<string[]> {
  const acknowledged: string[] = [];
  let exited = false;
  void member.closed.then(() => (exited = true));
  let refusedInARow = 0;
  // The small disk holds about SMALL_DISK_KIB / 16 values: far fewer than this.
  for (let i = 0; i < 1000 && !exited && refusedInARow < 5; i++) {
    const key = `${prefix}/k${i}`;
    const status = await put(member.clientUrl, key, VALUE);
    if (status === 200 || status === 201) {
      acknowledged.push(key);
      refusedInARow = 0;
    } else {
      refusedInARow++;
      await Promise.race([member.closed, new Promise((resolve) => setTimeout(resolve, 1000))]);
    }
  }
  assert.ok(exited, `${member.name} still runs, refusing writes, after its ${SMALL_DISK_KIB} KiB disk filled up:\n${member.log.slice(-2000)}`);
  return acknowledged;
}

/** The exit code, once the member has exited on its own (fails after `timeoutMs`). */
async function exitOf(member: ClusterMember, timeoutMs = 15_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'running'>((resolve) => (timer = setTimeout(() => resolve('running'), timeoutMs)));
  const outcome = await Promise.race([member.closed, timeout]);
  clearTimeout(timer);
  if (outcome === 'running') assert.fail(`${member.name} still runs ${timeoutMs} ms after its disk filled up:\n${member.log.slice(-2000)}`);
  return outcome;
}

/** The log lines that name a full disk. */
function noSpaceLines(log: string): string[] {
  return log.split('\n').filter((line) => /ENOSPC|no space left/i.test(line));
}

async function assertAllPresent(endpoint: string, keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const response = await fetch(`${endpoint}/v2/keys${key}?quorum=true`);
    const body = (await response.json()) as { node?: { value?: string } };
    assert.equal(response.status, 200, `acknowledged ${key} is missing after the restart`);
    assert.equal(body.node?.value, VALUE, `acknowledged ${key} has another value after the restart`);
  }
}

describe('adversarial: a full disk stops the member (fail-stop), losing nothing acknowledged', function () {
  this.timeout(120_000);
  let disk: Tmpfs | undefined;
  let cluster: TestCluster | undefined;

  beforeEach(async function () {
    requireBinary();
    disk = await Tmpfs.mount(SMALL_DISK_KIB);
    if (disk === undefined) {
      console.log('    skipped: mounting a tmpfs (a small disk to fill) is not permitted here; these tests need root');
      this.skip();
    }
  });
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
    await disk?.unmount();
    disk = undefined;
  });

  it('a single member exits non-zero naming ENOSPC, and after the disk is freed restarts with every acknowledged write', async () => {
    const dataDir = path.join(disk!.dir, 'single');
    cluster = await TestCluster.start(1, [], { dataDirs: { m1: dataDir } });
    const member = cluster.members[0]!;
    const acknowledged = await writeUntilExit(member, '/single');
    assert.ok(acknowledged.length > 0, `no write succeeded:\n${member.log.slice(-2000)}`);

    assert.equal(await exitOf(member), ExitCode.HALTED, member.log.slice(-2000));
    const named = noSpaceLines(member.log);
    assert.equal(named.length, 1, `expected one line naming the full disk:\n${member.log.slice(-3000)}`);
    assert.match(named[0]!, /ERROR/);

    await disk!.resize(FREED_DISK_KIB);
    cluster.launch(member);
    await cluster.waitHealthy();
    await assertAllPresent(member.clientUrl, acknowledged);
    assert.equal(await put(member.clientUrl, '/single/after', VALUE), 201);
  });

  it('a three-member cluster whose leader\'s disk fills: the leader exits, the others elect a leader and serve writes, the restarted member has every acknowledged write', async () => {
    const dataDir = path.join(disk!.dir, 'cluster-m1');
    cluster = await TestCluster.start(3, [], { dataDirs: { m1: dataDir } });
    const [m1, m2, m3] = cluster.members as [ClusterMember, ClusterMember, ClusterMember];
    await makeLeader(m1, cluster);

    const acknowledged = await writeUntilExit(m1, '/cluster');
    assert.equal(await exitOf(m1), ExitCode.HALTED, m1.log.slice(-2000));
    assert.equal(noSpaceLines(m1.log).length, 1, `expected one line naming the full disk:\n${m1.log.slice(-3000)}`);

    // The other two elect a leader among themselves and go on taking writes.
    const later = ['/cluster/later-on-m2', '/cluster/later-on-m3'];
    await writeWithRetry(m2.clientUrl, later[0]!);
    await writeWithRetry(m3.clientUrl, later[1]!);
    await assertAllPresent(m2.clientUrl, acknowledged);

    await disk!.resize(FREED_DISK_KIB);
    cluster.launch(m1);
    await cluster.waitHealthy();
    await assertAllPresent(m1.clientUrl, [...acknowledged, ...later]);
  });
});

/** Hands the leadership to `member` (kvd's POST /v2/members/<id>/leader on the current leader). */
async function makeLeader(member: ClusterMember, cluster: TestCluster): Promise<void> {
  const members = (await (await fetch(`${member.clientUrl}/v2/members`)).json()) as { members: Array<{ id: string; name: string }> };
  const id = members.members.find((m) => m.name === member.name)!.id;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const leader = (await (await fetch(`${member.clientUrl}/v2/members/leader`)).json()) as { name: string };
    if (leader.name === member.name) return;
    if (Date.now() > deadline) assert.fail(`${member.name} never became the leader`);
    const current = cluster.member(leader.name);
    if (current !== undefined) await (await fetch(`${current.clientUrl}/v2/members/${id}/leader`, { method: 'POST' })).arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A write that must succeed once the cluster has a leader again. */
async function writeWithRetry(endpoint: string, key: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await put(endpoint, key, VALUE);
    if (status === 200 || status === 201) return;
    if (Date.now() > deadline) assert.fail(`${endpoint} never took a write after the leader stopped (last status ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
