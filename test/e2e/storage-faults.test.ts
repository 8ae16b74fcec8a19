import assert from 'node:assert/strict';
import { readdir, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { openRecord } from '../../src/storage/codec.ts';
import { entryIndexOf } from '../../src/storage/log-store.ts';
import { KEY_HARD_STATE, decodeHardState } from '../../src/storage/stable-store.ts';
import { requireBinary } from '../helpers/binary.ts';
import type { ClusterMember } from '../helpers/cluster.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { waitUntil } from '../helpers/trees.ts';

// Issue 16: what a member does with a data dir that lost or tore writes (real kvd processes,
// real LevelDB files). Damage the dir's checks refuse is in test/storage/data-dir-damage.test.ts.

async function put(endpoint: string, key: string, value: string): Promise<void> {
  const response = await fetch(`${endpoint}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value }), headers: { 'content-type': 'application/x-www-form-urlencoded' }, signal: AbortSignal.timeout(15_000) });
  assert.equal(response.status, 201);
}

async function localValue(endpoint: string, key: string): Promise<string | undefined> {
  const response = await fetch(`${endpoint}/v2/keys${key}`, { signal: AbortSignal.timeout(15_000) });
  return response.ok ? ((await response.json()) as { node: { value: string } }).node.value : undefined;
}

/**
 * Drops the log rows that hold the entries the hard state commits last, as a lost table or log
 * would: the hard state then commits past the end of the log. Returns [commit, last index left].
 */
async function loseCommittedEntries(dataDir: string): Promise<[number, number]> {
  const db = new ClassicLevel<Buffer, Buffer>(dataDir, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: false });
  await db.open();
  try {
    const commit = decodeHardState(openRecord((await db.get(KEY_HARD_STATE))!)!)!.commit;
    const starts: number[] = [];
    for await (const key of db.keys({ gte: Buffer.from('e'), lt: Buffer.from('f') })) starts.push(entryIndexOf(key));
    const cut = starts.filter((start) => start <= commit).pop()!;
    for (const start of starts.filter((s) => s >= cut)) await db.del(Buffer.concat([Buffer.from('e'), u64(start)]));
    return [commit, cut - 1];
  } finally {
    await db.close();
  }
}

function u64(value: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(value));
  return out;
}

describe('storage faults (e2e)', function () {
  this.timeout(60_000);
  let cluster: TestCluster | undefined;
  before(requireBinary);
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  async function restarted(member: ClusterMember): Promise<void> {
    await cluster!.kill(member, 'SIGTERM');
    member.log = '';
  }

  it('a single member whose data dir lost entries it acknowledged refuses to start, saying what to do', async () => {
    cluster = await TestCluster.start(1);
    const [m1] = cluster.members as [ClusterMember];
    for (let i = 0; i < 5; i++) await put(m1.clientUrl, `/k${i}`, `v${i}`);
    await restarted(m1);
    const [commit, last] = await loseCommittedEntries(m1.dataDir);
    cluster.launch(m1);
    assert.notEqual(await m1.closed, 0);
    assert.match(m1.log, new RegExp(`data dir ${m1.dataDir}: its hard state commits index ${commit}, but it holds entries only up to ${last}: entries this member acknowledged are lost, and a single member cannot get them back from anyone: restore the data dir from a backup`));
  });

  it('a member of a cluster whose data dir lost entries it acknowledged starts, does not vote until caught up, then has them', async () => {
    cluster = await TestCluster.start(3);
    const [m1, , m3] = cluster.members as [ClusterMember, ClusterMember, ClusterMember];
    for (let i = 0; i < 5; i++) await put(m1.clientUrl, `/k${i}`, `v${i}`);
    await cluster.waitForLog(m3, /member started/);
    // m3 must hold the writes before it stops: wait until it serves the last one locally.
    await waitUntil('m3 to apply /k4', async () => (await localValue(m3.clientUrl, '/k4')) === 'v4');
    await restarted(m3);
    const [commit] = await loseCommittedEntries(m3.dataDir);
    cluster.launch(m3);
    await cluster.waitForLog(m3, /data dir lost entries this member acknowledged: it will not vote or campaign until the leader has caught it up/);
    assert.match(m3.log, new RegExp(`committed=${commit}`));
    await cluster.waitForLog(m3, /caught up on the entries the data dir lost: this member votes again/);
    assert.equal(await localValue(m3.clientUrl, '/k4'), 'v4');
  });

  it("a write torn by kill -9 (cut short at the end of LevelDB's log) is dropped with a log line naming its entries", async () => {
    cluster = await TestCluster.start(1);
    const [m1] = cluster.members as [ClusterMember];
    for (let i = 0; i < 20; i++) await put(m1.clientUrl, `/k${i}`, `v${i}`);
    await cluster.kill(m1, 'SIGKILL');
    m1.log = '';
    const log = path.join(m1.dataDir, (await readdir(m1.dataDir)).find((name) => name.endsWith('.log'))!);
    await truncate(log, (await stat(log)).size - 5);
    cluster.launch(m1);
    await cluster.waitHealthy();
    assert.match(m1.log, /\.log ends in a torn write at byte \d+ \(the member stopped during it, so it was never acknowledged\); it is dropped: .*; the log now ends at index \d+/);
  });
});
