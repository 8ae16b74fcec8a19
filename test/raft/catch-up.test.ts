import assert from 'node:assert/strict';
import type { RaftConfig } from '../../src/raft/raft.ts';
import { MemoryStorage } from '../../src/raft/storage.ts';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { TestMember } from './harness.ts';

// RaftConfig.catchUpTo: a member whose storage lost entries it had acknowledged (its hard state
// committed past what it still holds) must not vote until a leader has caught it up again.

const text = (s: string) => new TextEncoder().encode(s);

/** Delivers messages among the members that are up and processes Readies until nothing moves. */
function stabilize(members: Map<NodeId, TestMember>, up: ReadonlySet<NodeId>): Message[] {
  const delivered: Message[] = [];
  let queue: Message[] = [];
  for (let round = 0; round < 1000; round++) {
    for (const id of up) queue.push(...members.get(id)!.processReady());
    const batch = queue.filter((m) => up.has(m.to));
    queue = [];
    for (const m of batch) members.get(m.to)!.node.step(m);
    delivered.push(...batch);
    if (batch.length === 0 && [...up].every((id) => !members.get(id)!.node.hasReady())) return delivered;
  }
  throw new Error('did not stabilize');
}

/**
 * Three members; entry "k" is committed by 1 and 2 while 3 is cut off; then 2 restarts having
 * lost "k" (its hard state commit clamped to what it holds), with the rule or without, and 1 is
 * down. Returns the members and k's index.
 */
function lostCommittedEntry(withRule: boolean): { members: Map<NodeId, TestMember>; k: number } {
  const members = new Map([1, 2, 3].map((id) => [id, new TestMember(id, [1, 2, 3], 7)]));
  const all = new Set([1, 2, 3]);
  stabilize(members, all);
  members.get(1)!.node.campaign();
  stabilize(members, all);
  members.get(1)!.node.propose(text('before'));
  stabilize(members, all);
  members.get(1)!.node.propose(text('k'));
  stabilize(members, new Set([1, 2]));
  const k = members.get(1)!.node.status().commit;
  assert.equal(members.get(1)!.applied.get(k), 'k');
  assert.equal(members.get(2)!.node.status().commit, k, 'member 2 acknowledged k, and knows it committed');

  const old = members.get(2)!.storage;
  const storage = new MemoryStorage();
  storage.load(old.snapshot(), old.entries(old.firstIndex(), k, Infinity), { ...old.hardState, commit: k - 1 });
  const options: Partial<RaftConfig> = withRule ? { catchUpTo: k } : {};
  members.set(2, new TestMember(2, [1, 2, 3], 7, options, storage));
  return { members, k };
}

const votesFrom = (delivered: readonly Message[], id: NodeId) => delivered.filter((m) => m.from === id && (m.type === 'voteResp' || m.type === 'preVoteResp'));

describe('raft: a member that lost acknowledged entries (catchUpTo)', () => {
  it('without the rule, it helps elect a leader that lacks a committed entry, which is then overwritten', () => {
    const { members, k } = lostCommittedEntry(false);
    const up = new Set([2, 3]);
    stabilize(members, up);
    members.get(3)!.node.campaign();
    stabilize(members, up);
    assert.equal(members.get(3)!.node.status().role, 'leader');
    members.get(3)!.node.propose(text('other'));
    stabilize(members, up);
    assert.notEqual(members.get(2)!.applied.get(k), 'k', 'the committed entry k was replaced');
  });

  it('with it, the member refuses votes and pre-votes and never campaigns until a leader has caught it up', () => {
    const { members, k } = lostCommittedEntry(true);
    const up = new Set([2, 3]);
    stabilize(members, up);
    members.get(3)!.node.campaign();
    const delivered = stabilize(members, up);
    assert.ok(votesFrom(delivered, 2).length > 0 && votesFrom(delivered, 2).every((m) => m.reject), 'member 2 refused');
    assert.notEqual(members.get(3)!.node.status().role, 'leader');

    // Left alone, member 2 does not campaign either, however long it waits.
    const two = members.get(2)!;
    for (let i = 0; i < 100; i++) two.node.tick();
    const campaign = stabilize(members, up).filter((m) => m.from === 2 && (m.type === 'vote' || m.type === 'preVote'));
    assert.deepEqual(campaign, []);
    assert.equal(two.node.status().role, 'follower');

    // Member 1, still leader, is heard again; its transport saw 2 go down (so it probes 2
    // rather than trust 2's old acknowledgements), and its next entry catches 2 up.
    const all = new Set([1, 2, 3]);
    const one = members.get(1)!;
    one.node.reportUnreachable(2);
    one.node.propose(text('after'));
    stabilize(members, all);
    assert.equal(one.node.status().role, 'leader');
    assert.equal(two.applied.get(k), 'k');
    assert.ok(two.node.raft.caughtUp());

    // Caught up, it may lead again: a leadership transfer to it succeeds.
    one.node.transferLeadership(2);
    stabilize(members, all);
    assert.equal(two.node.status().role, 'leader');
    assert.equal(members.get(3)!.applied.get(k), 'k');
  });

  it("the leader stops counting the member's acknowledgements of entries it lost, once it hears where its log ends", () => {
    // Five members; 3, 4 and 5 are cut off. Member 2 acknowledges "x", which is not committed
    // (2 of 5), then restarts having lost it and the entry before, which it knew committed.
    const members = new Map([1, 2, 3, 4, 5].map((id) => [id, new TestMember(id, [1, 2, 3, 4, 5], 11)]));
    const all = new Set([1, 2, 3, 4, 5]);
    stabilize(members, all);
    const one = members.get(1)!;
    one.node.campaign();
    stabilize(members, all);
    one.node.propose(text('committed'));
    stabilize(members, all);
    const before = one.node.status().commit;
    one.node.propose(text('x'));
    stabilize(members, new Set([1, 2]));
    const x = one.node.status().lastIndex;
    assert.equal(one.node.status().commit, before, 'x is not committed yet');
    assert.equal(one.node.status().progress.get(2)!.match, x, 'member 2 acknowledged x');

    const old = members.get(2)!.storage;
    assert.equal(old.hardState.commit, before);
    const storage = new MemoryStorage();
    storage.load(old.snapshot(), old.entries(old.firstIndex(), before, Infinity), { ...old.hardState, commit: before - 1 });
    const two = new TestMember(2, [1, 2, 3, 4, 5], 11, { catchUpTo: before }, storage);
    members.set(2, two);
    stabilize(members, new Set([2]));

    // A heartbeat reaches member 2; its answer says where its log ends; nothing more is sent.
    one.node.tick();
    deliver(one, two);
    deliver(two, one);
    assert.ok(one.node.status().progress.get(2)!.match < x, 'the leader no longer counts 2 as holding x');
    // 3 is heard again (its transport had reported it unreachable) and acknowledges x: 1 and 3
    // hold it, not a majority of 5.
    one.node.reportUnreachable(3);
    one.node.tick();
    stabilize(members, new Set([1, 3]));
    assert.equal(members.get(3)!.storage.lastIndex(), x);
    assert.ok(one.node.status().commit < x, `x counted as committed with member 2's lost acknowledgement (commit ${one.node.status().commit})`);

    // Once 2 has caught up (the leader's next heartbeat resumes the probe whose message 2 never
    // got), x is held by a majority again and commits.
    one.node.tick();
    stabilize(members, new Set([1, 2, 3]));
    assert.ok(one.node.status().commit >= x);
    assert.equal(two.applied.get(x), 'x');
  });
});

/** Processes `from`'s Ready and delivers what it sends to `to` (and nothing else). */
function deliver(from: TestMember, to: TestMember): void {
  for (const m of from.processReady()) if (m.to === to.id) to.node.step(m);
}
