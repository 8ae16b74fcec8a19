import assert from 'node:assert/strict';
import { Inflights } from '../../src/raft/inflights.ts';
import { Progress } from '../../src/raft/progress.ts';
import { committedIndex, voteResult } from '../../src/raft/quorum.ts';
import { seededRandom } from '../../src/raft/rand.ts';

/** The naive commit rule: the largest index that more than half of the voters have. */
function naiveCommitted(matches: number[]): number {
  let best = 0;
  for (const candidate of matches) {
    const count = matches.filter((m) => m >= candidate).length;
    if (count > matches.length / 2) best = Math.max(best, candidate);
  }
  return best;
}

describe('raft arithmetic', () => {
  it('committedIndex equals the naive rule on 10,000 seeded random configurations', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 10_000; i++) {
      const n = 1 + Math.floor(random() * 7);
      const matches = Array.from({ length: n }, () => Math.floor(random() * 20));
      const voters = matches.map((_, id) => id + 1);
      assert.equal(committedIndex(voters, (id) => matches[id - 1]!), naiveCommitted(matches), JSON.stringify(matches));
    }
  });

  it('committedIndex of no voters is 0', () => assert.equal(committedIndex([], () => 5), 0));

  const votes: Array<[string, number[], Array<[number, boolean]>, string]> = [
    ['a majority granted wins', [1, 2, 3], [[1, true], [2, true]], 'won'],
    ['a majority rejected loses', [1, 2, 3], [[1, true], [2, false], [3, false]], 'lost'],
    ['too few answers is pending', [1, 2, 3], [[1, true]], 'pending'],
    ['a single voter wins alone', [1], [[1, true]], 'won'],
    ['half of four is not enough', [1, 2, 3, 4], [[1, true], [2, true], [3, false]], 'pending'],
    ['votes of non-voters do not count', [1, 2, 3], [[1, true], [9, true]], 'pending'],
  ];
  for (const [name, voters, cast, expected] of votes) {
    it(`voteResult: ${name}`, () => assert.equal(voteResult(voters, new Map(cast)), expected));
  }

  it('inflights: a full window refuses more; freeing up to i frees every message up to i', () => {
    const inflights = new Inflights(3);
    inflights.add(5);
    inflights.add(7);
    inflights.add(9);
    assert.equal(inflights.full, true);
    assert.throws(() => inflights.add(10));
    inflights.freeLE(7);
    assert.equal(inflights.size, 1);
    inflights.add(11);
    inflights.add(13);
    inflights.freeLE(100);
    assert.equal(inflights.size, 0);
  });

  it('progress: probe sends one append at a time; an ack moves to replicate', () => {
    const pr = new Progress(5, 2, false);
    assert.equal(pr.paused, false);
    pr.sentEntries(6, 2);
    assert.equal(pr.paused, true);
    assert.equal(pr.maybeUpdate(6), true);
    pr.becomeReplicate();
    assert.deepEqual([pr.state, pr.match, pr.next], ['replicate', 6, 7]);
  });

  it('progress: replicate pipelines up to the window, then pauses', () => {
    const pr = new Progress(1, 2, false);
    pr.becomeReplicate();
    pr.sentEntries(3, 3);
    pr.sentEntries(5, 2);
    assert.equal(pr.paused, true);
    assert.equal(pr.next, 6);
    pr.maybeUpdate(3);
    pr.inflights.freeLE(3);
    assert.equal(pr.paused, false);
  });

  it('progress: a rejection in replicate falls back to match+1; a stale one is ignored', () => {
    const pr = new Progress(1, 8, false);
    pr.maybeUpdate(4);
    pr.becomeReplicate();
    pr.sentEntries(9, 5);
    assert.equal(pr.maybeDecrTo(3, 0), false, 'at or below match: stale');
    assert.equal(pr.maybeDecrTo(9, 2), true);
    assert.equal(pr.next, 5);
  });

  it('progress: in probe, the hint skips back at once (fast backtracking)', () => {
    const pr = new Progress(20, 8, false);
    pr.sentEntries(25, 5);
    assert.equal(pr.maybeDecrTo(19, 7), true);
    assert.equal(pr.next, 8);
    assert.equal(pr.maybeDecrTo(19, 7), false, 'a rejection of an append no longer outstanding');
  });

  it('progress: after a snapshot, probing starts just past it', () => {
    const pr = new Progress(1, 8, false);
    pr.becomeSnapshot(50);
    assert.equal(pr.paused, true);
    pr.becomeProbe();
    assert.deepEqual([pr.state, pr.next], ['probe', 51]);
  });
});
