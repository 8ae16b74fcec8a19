import { Progress } from './progress.ts';
import { committedIndex, voteResult } from './quorum.ts';
import type { VoteResult } from './quorum.ts';
import type { ConfChange, ConfState, NodeId } from './types.ts';

/**
 * The membership and the leader's progress of every member. One change at a time: each
 * configuration differs from the last by one member (section 4.1), so no joint consensus is needed.
 * Invariants: voters and learners are disjoint; every member has a Progress.
 */
export class ProgressTracker {
  readonly voters = new Set<NodeId>();
  readonly learners = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();
  readonly maxInflight: number;

  constructor(maxInflight: number) {
    this.maxInflight = maxInflight;
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }

  /** Replaces the membership (from a snapshot or storage); every Progress starts at `next`. */
  reset(confState: ConfState, next: number): void {
    this.voters.clear();
    this.learners.clear();
    this.progress.clear();
    for (const id of confState.voters) this.voters.add(id);
    for (const id of confState.learners) this.learners.add(id);
    for (const id of [...this.voters, ...this.learners]) this.progress.set(id, new Progress(next, this.maxInflight, this.learners.has(id)));
  }

  /** Applies one change; `next` is where a new member's Progress starts. Returns the new membership. */
  apply(change: ConfChange, next: number): ConfState {
    const id = change.nodeId;
    switch (change.type) {
      case 'addNode': {
        this.learners.delete(id);
        this.voters.add(id);
        const progress = this.progress.get(id);
        if (progress === undefined) this.progress.set(id, new Progress(next, this.maxInflight, false));
        else progress.isLearner = false;
        break;
      }
      case 'addLearner':
        // A voter is never demoted by this change: remove it first.
        if (!this.voters.has(id) && !this.learners.has(id)) {
          this.learners.add(id);
          this.progress.set(id, new Progress(next, this.maxInflight, true));
        }
        break;
      case 'removeNode':
        this.voters.delete(id);
        this.learners.delete(id);
        this.progress.delete(id);
        break;
    }
    return this.confState();
  }

  isVoter(id: NodeId): boolean {
    return this.voters.has(id);
  }

  /** The highest index a majority of voters has acknowledged. */
  committed(): number {
    return committedIndex([...this.voters], (id) => this.progress.get(id)?.match ?? 0);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteResult {
    return voteResult([...this.voters], this.votes);
  }

  /** Whether a majority of voters (counting `self`) was heard from recently. */
  quorumActive(self: NodeId): boolean {
    const active = new Map<NodeId, boolean>();
    for (const id of this.voters) active.set(id, id === self || this.progress.get(id)?.recentActive === true);
    return voteResult([...this.voters], active) === 'won';
  }

  isSingleVoter(self: NodeId): boolean {
    return this.voters.size === 1 && this.voters.has(self);
  }
}
