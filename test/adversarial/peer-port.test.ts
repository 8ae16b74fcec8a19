import assert from 'node:assert/strict';
import type { Entry, Message } from '../../src/raft/types.ts';
import { message } from '../../src/raft/types.ts';
import type { KeysCommand } from '../../src/server/keys-command.ts';
import { encodeKeysPayload } from '../../src/server/payload-codec.ts';
import { DiskStorage } from '../../src/storage/disk-storage.ts';
import { requireBinary } from '../helpers/binary.ts';
import type { ClusterMember } from '../helpers/cluster.ts';
import { TestCluster } from '../helpers/cluster.ts';
import type { PeerIdentity } from '../helpers/raw-peer.ts';
import { RawPeerStream, peerIdentity, postSnapshot } from '../helpers/raw-peer.ts';

/**
 * Attacks on a 3-member cluster's plain-HTTP peer port, each found on kvd 0.3.0 (where it stopped
 * members or the whole cluster). After each, the cluster must keep electing and serving writes.
 */

/** PUT a key, retrying while the cluster elects (until the deadline); the final status. */
async function put(endpoint: string, key: string, value: string, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${endpoint}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value }), headers: { 'content-type': 'application/x-www-form-urlencoded' }, signal: AbortSignal.timeout(15_000) }).catch(() => undefined);
    if (response !== undefined) await response.arrayBuffer();
    if (response?.status === 200 || response?.status === 201 || Date.now() > deadline) return response?.status ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A quorum read of a key (retried while the cluster elects): its value and the member's Raft term. */
async function read(endpoint: string, key: string, timeoutMs = 20_000): Promise<{ value: string | undefined; term: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${endpoint}/v2/keys${key}?quorum=true`, { signal: AbortSignal.timeout(15_000) }).catch(() => undefined);
    const body = (await response?.json()) as { node?: { value?: string } } | undefined;
    if (response?.status === 200) return { value: body?.node?.value, term: Number(response.headers.get('x-raft-term')) };
    if (Date.now() > deadline) assert.fail(`no quorum read of ${key} on ${endpoint}: ${response?.status} ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every member takes a write and reads it back through a quorum. */
async function assertServing(cluster: TestCluster, key: string): Promise<void> {
  for (const [i, member] of cluster.members.entries()) {
    const value = `${key}-${i}`;
    assert.ok([200, 201].includes(await put(member.clientUrl, key, value)), `${member.name} takes no writes:\n${member.log.slice(-1500)}`);
    assert.equal((await read(member.clientUrl, key)).value, value);
  }
}

/** Opens a stream to `target` as member `from`, sends the frame, and ends it: how the member answered. */
async function sendAs(target: ClusterMember, identity: PeerIdentity, from: number, messages: readonly Message[]): Promise<number | undefined> {
  const stream = await RawPeerStream.open(target.peerUrl, identity.clusterId, from);
  stream.send(messages);
  return (await stream.end()).status;
}

describe('adversarial: the peer port', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  /** Each member's identity, by name. */
  const ids = new Map<string, PeerIdentity>();

  // A cluster of its own for each attack: one that breaks the cluster cannot hide another.
  beforeEach(async () => {
    requireBinary();
    cluster = await TestCluster.start(3);
    for (const member of cluster.members) ids.set(member.name, await peerIdentity(member.clientUrl));
    await assertServing(cluster, '/before');
  });

  afterEach(async () => {
    await cluster?.destroy();
  });

  /** The member that is not `target` to pose as, and its id. */
  function other(target: ClusterMember): number {
    const name = cluster.members.find((m) => m !== target)!.name;
    return ids.get(target.name)!.members.get(name)!;
  }

  it('refuses terms that are not integers below 2^53 (1e300 stopped every member, 2^60 ended elections)', async () => {
    for (const term of [1e300, 2 ** 60, 2 ** 53, -1, 1.5, NaN]) {
      for (const target of cluster.members) {
        const identity = ids.get(target.name)!;
        const status = await sendAs(target, identity, other(target), [message({ type: 'heartbeat', from: other(target), to: identity.id, term })]);
        assert.equal(status, 400, `term ${term} to ${target.name}`);
      }
    }
    await assertServing(cluster, '/after-terms');
    for (const member of cluster.members) assert.ok((await read(member.clientUrl, '/after-terms')).term < 1000);
  });

  it('refuses the kinds that are only ever local (hup, beat, checkQuorum, unreachable, snapStatus)', async () => {
    const target = cluster.members[0]!;
    const identity = ids.get(target.name)!;
    for (const type of ['hup', 'beat', 'checkQuorum', 'unreachable', 'snapStatus'] as const) {
      assert.equal(await sendAs(target, identity, other(target), [message({ type, from: other(target), to: identity.id })]), 400, type);
    }
    await assertServing(cluster, '/after-local');
  });

  it('drops messages from non-members, or not from the stream\'s sender, or for another member', async () => {
    const target = cluster.members[0]!;
    const identity = ids.get(target.name)!;
    const term = (await read(target.clientUrl, '/before')).term;
    const disrupt = (from: number, to: number) => [message({ type: 'heartbeat', from, to, term: term + 1000 })];
    // Each is answered 204 only after its frame was handled: a term taken would show at once.
    assert.equal(await sendAs(target, identity, 0x1234, disrupt(0x1234, identity.id)), 204);
    assert.equal(await sendAs(target, identity, other(target), disrupt(identity.members.get('m3')!, identity.id)), 204);
    assert.equal(await sendAs(target, identity, other(target), disrupt(other(target), other(target))), 204);
    assert.ok((await read(target.clientUrl, '/before')).term < term + 1000, 'a dropped message moved the term');
    await assertServing(cluster, '/after-strangers');
  });

  it('refuses a snapshot whose data does not restore, before Raft sees it (it stopped the followers)', async () => {
    for (const target of cluster.members) {
      const identity = await peerIdentity(target.clientUrl);
      if (identity.leader === identity.id || identity.leader === 0) continue;
      const term = (await read(target.clientUrl, '/before')).term;
      const voters = [...identity.members.values()];
      const snap = message({ type: 'snap', from: identity.leader, to: identity.id, term, snapshot: { meta: { index: 1_000_000, term, confState: { voters, learners: [] } }, data: new Uint8Array(0) } });
      const garbage = Buffer.from('not a snapshot image at all');
      const outcome = await postSnapshot(target.peerUrl, identity.clusterId, identity.leader, snap, garbage);
      assert.equal(outcome.status, 400, outcome.answer);
      // Nor inline in a stream's frame, where it would not be checked.
      assert.equal(await sendAs(target, identity, identity.leader, [{ ...snap, snapshot: { meta: snap.snapshot!.meta, data: garbage } }]), 400);
    }
    await assertServing(cluster, '/after-snapshot');
  });

  it('refuses a proposal that does not decode, so that it never enters the log (it bricked the cluster)', async () => {
    const leaderId = (await peerIdentity(cluster.members[0]!.clientUrl)).leader;
    const leader = cluster.members.find((m) => ids.get(m.name)!.id === leaderId)!;
    const identity = ids.get(leader.name)!;
    const entry = (type: Entry['type'], data: Uint8Array): Entry => ({ term: 0, index: 0, type, data });
    const bad = [
      entry('normal', Buffer.from('{"kind":"keys","id":"x"')),
      entry('normal', Buffer.from([0x01, 0x00, 0x00, 0x01])),
      entry('normal', Buffer.from('{"kind":"expire","time":"soon"}')),
      entry('normal', Buffer.from('{"kind":"nonsense"}')),
      entry('confChange', Buffer.from('{"type":"addNode","nodeId":-1}')),
      entry('confChange', Buffer.from('not json')),
    ];
    for (const e of bad) {
      const status = await sendAs(leader, identity, other(leader), [message({ type: 'prop', from: other(leader), to: identity.id, entries: [e] })]);
      assert.equal(status, 400, Buffer.from(e.data).toString());
    }
    await assertServing(cluster, '/after-proposals');
    // Every restart replayed such an entry and stopped again: a member killed and restarted serves.
    const victim = cluster.members.find((m) => m !== leader)!;
    await cluster.kill(victim);
    victim.log = '';
    cluster.launch(victim);
    await cluster.waitHealthy();
    await assertServing(cluster, '/after-restart');
  });

  it('refuses a proposal of peer URLs that are not http(s) URLs of a host (dialling one threw: the leader stopped, the others lost a peer)', async () => {
    const leaderId = (await peerIdentity(cluster.members[0]!.clientUrl)).leader;
    const leader = cluster.members.find((m) => ids.get(m.name)!.id === leaderId)!;
    const identity = ids.get(leader.name)!;
    const victim = other(leader);
    const entry = (type: Entry['type'], value: unknown): Entry => ({ term: 0, index: 0, type, data: Buffer.from(JSON.stringify(value)) });
    const record = (peerURLs: string[]) => JSON.stringify({ id: 77, name: '', peerURLs, clientURLs: [], isLearner: true });
    const bad = [
      entry('normal', { kind: 'updatePeers', member: victim, peerURLs: ['not a url'] }),
      entry('normal', { kind: 'updatePeers', member: victim, peerURLs: ['ftp://127.0.0.1:1'] }),
      entry('normal', { kind: 'updatePeers', member: victim, peerURLs: [] }),
      entry('confChange', { type: 'addLearner', nodeId: 77, context: record(['nonsense']) }),
      entry('confChange', { type: 'addLearner', nodeId: 77, context: record([]) }),
    ];
    for (const e of bad) {
      const status = await sendAs(leader, identity, other(leader), [message({ type: 'prop', from: other(leader), to: identity.id, entries: [e] })]);
      assert.equal(status, 400, Buffer.from(e.data).toString());
    }
    await assertServing(cluster, '/after-peer-urls');
  });

  it('refuses a proposal whose clock readings no date can show (applying it threw on every member, at every start)', async () => {
    const leaderId = (await peerIdentity(cluster.members[0]!.clientUrl)).leader;
    const leader = cluster.members.find((m) => ids.get(m.name)!.id === leaderId)!;
    const identity = ids.get(leader.name)!;
    const command: KeysCommand = { method: 'PUT', key: '/far', value: 'v', dir: false, prevValue: '', prevIndex: 0, recursive: false, sorted: false, refresh: false, expireTime: 1e16, now: 1_790_000_000_000 };
    const entry = (data: Uint8Array): Entry => ({ term: 0, index: 0, type: 'normal', data });
    const bad = [
      entry(new Uint8Array(encodeKeysPayload('far-1', command))),
      entry(Buffer.from(JSON.stringify({ kind: 'txn', id: 'far-2', command: { compare: [], success: [command], failure: [] } }))),
      entry(new Uint8Array(encodeKeysPayload('far-3', { ...command, expireTime: 1_790_000_060_000, now: 1e300 }))),
    ];
    for (const e of bad) {
      const status = await sendAs(leader, identity, other(leader), [message({ type: 'prop', from: other(leader), to: identity.id, entries: [e] })]);
      assert.equal(status, 400, Buffer.from(e.data).toString('latin1'));
    }
    await assertServing(cluster, '/after-far-times');
  });

  it('drops an append answer for entries the leader never had (the leader\'s Raft core threw and it exited)', async () => {
    const leaderId = (await peerIdentity(cluster.members[0]!.clientUrl)).leader;
    const leader = cluster.members.find((m) => ids.get(m.name)!.id === leaderId)!;
    const identity = ids.get(leader.name)!;
    const term = (await read(leader.clientUrl, '/before')).term;
    for (const follower of cluster.members.filter((m) => m !== leader)) {
      const from = identity.members.get(follower.name)!;
      assert.equal(await sendAs(leader, identity, from, [message({ type: 'appResp', from, to: leaderId, term, index: 1e12 })]), 204);
    }
    await assertServing(cluster, '/after-append-answers');
    assert.equal(leader.process?.exitCode, null, 'the leader still runs');
  });

  it('keeps electing after a peer pushes every term to just below the limit', async () => {
    for (const target of cluster.members) {
      const identity = ids.get(target.name)!;
      assert.equal(await sendAs(target, identity, other(target), [message({ type: 'heartbeat', from: other(target), to: identity.id, term: 2 ** 52 - 1 })]), 204);
    }
    await assertServing(cluster, '/after-high-term');
    const term = (await read(cluster.members[0]!.clientUrl, '/after-high-term')).term;
    assert.ok(term >= 2 ** 52 - 1, `term ${term}`);
    // Above 2^52 a message may not leap ahead: the term stays exact and elections go on.
    const target = cluster.members[0]!;
    const identity = ids.get(target.name)!;
    assert.equal(await sendAs(target, identity, other(target), [message({ type: 'heartbeat', from: other(target), to: identity.id, term: 2 ** 53 - 1 })]), 204);
    assert.ok((await read(target.clientUrl, '/after-high-term')).term < 2 ** 52 + 1_000_000);
    await assertServing(cluster, '/after-leap');
  });
});

describe('adversarial: a malformed entry already in a log', function () {
  this.timeout(60_000);
  let cluster: TestCluster | undefined;

  afterEach(async () => {
    await cluster?.destroy();
  });

  it('is skipped on apply, alike on every start, instead of stopping the member each time', async () => {
    requireBinary();
    cluster = await TestCluster.start(1);
    const member = cluster.members[0]!;
    assert.equal(await put(member.clientUrl, '/a', '1'), 201);
    await cluster.kill(member, 'SIGTERM');
    // Written straight to the data dir, as damage (or an older member's bug) would leave it.
    const storage = await DiskStorage.open(member.dataDir);
    const { hardState } = storage.initialState();
    const index = storage.lastIndex() + 1;
    const entries: Entry[] = [
      { term: hardState.term, index, type: 'normal', data: Buffer.from('{"kind":"keys","id":') },
      { term: hardState.term, index: index + 1, type: 'confChange', data: Buffer.from('{"type":"addNode"}') },
    ];
    await storage.persist({ entries, hardState: { ...hardState, commit: index + 1 }, sync: true });
    await storage.close();
    for (let start = 0; start < 2; start++) {
      member.log = '';
      cluster.launch(member);
      await cluster.waitHealthy();
      await cluster.waitForLog(member, new RegExp(`skipped a malformed log entry index=${index + 1}`));
      assert.match(member.log, new RegExp(`skipped a malformed log entry index=${index} `));
      assert.equal(await put(member.clientUrl, '/a', `restart ${start}`), 200);
      assert.equal((await read(member.clientUrl, '/a')).value, `restart ${start}`);
      await cluster.kill(member);
    }
  });
});
