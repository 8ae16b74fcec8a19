import assert from 'node:assert/strict';
import type { Message } from '../../src/raft/types.ts';
import { TestMember } from './harness.ts';

/** Delivers messages and processes Readies until nothing moves. */
function stabilize(members: Map<number, TestMember>, queue: Message[]): void {
  for (let round = 0; round < 1000; round++) {
    let moved = false;
    for (const member of members.values()) {
      const out = member.processReady();
      if (out.length > 0) moved = true;
      queue.push(...out);
    }
    const batch = queue.splice(0);
    for (const m of batch) {
      moved = true;
      members.get(m.to)?.node.step(m);
    }
    if (!moved && [...members.values()].every((mb) => !mb.node.hasReady())) return;
  }
  throw new Error('did not stabilize');
}

describe('raft smoke', () => {
  it('a single member elects itself and commits proposals', () => {
    const m = new TestMember(1, [1], 1);
    const members = new Map([[1, m]]);
    stabilize(members, []);
    m.node.campaign();
    stabilize(members, []);
    assert.equal(m.node.status().role, 'leader');
    m.node.propose(new TextEncoder().encode('hello'));
    stabilize(members, []);
    assert.deepEqual([...m.applied.values()], ['hello']);
  });

  it('three members elect a leader, replicate and commit everywhere', () => {
    const members = new Map([1, 2, 3].map((id) => [id, new TestMember(id, [1, 2, 3], 1)]));
    const queue: Message[] = [];
    stabilize(members, queue);
    members.get(1)!.node.campaign();
    stabilize(members, queue);
    assert.equal(members.get(1)!.node.status().role, 'leader');
    assert.equal(members.get(2)!.node.status().lead, 1);
    for (let i = 0; i < 5; i++) members.get(1 + (i % 3))!.node.propose(new TextEncoder().encode(`v${i}`));
    stabilize(members, queue);
    for (const m of members.values()) assert.deepEqual([...m.applied.values()].sort(), ['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  it('a proposal with no leader comes back dropped, not thrown', () => {
    const m = new TestMember(1, [1, 2, 3], 1);
    assert.match(m.node.propose(new Uint8Array([1]))?.dropped ?? '', /no leader/);
  });
});
