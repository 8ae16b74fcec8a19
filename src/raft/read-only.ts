import { voteResult } from './quorum.ts';
import type { NodeId } from './types.ts';

/** A linearizable read waiting for the leader to confirm it still leads. */
export interface ReadRequest {
  readonly from: NodeId;
  readonly context: string;
}

/**
 * One heartbeat round confirming leadership for a batch of reads. Reads that arrive before the
 * round's heartbeats are handed out join it (and raise its index to the commit index then).
 */
interface Round {
  readonly id: string;
  index: number;
  readonly reads: ReadRequest[];
  readonly acks: Set<NodeId>;
  /** The round's heartbeats left in a Ready: later reads start a new round. */
  sent: boolean;
}

/** The leader's ReadIndex rounds, oldest first (section 6.4). */
export class ReadOnly {
  private rounds: Round[] = [];
  private sequence = 0;

  /**
   * Adds a read at the commit index `index`; returns the id of a new round whose heartbeats the
   * caller must send, or undefined when the read joined a round not yet sent.
   */
  add(read: ReadRequest, index: number, self: NodeId): string | undefined {
    const open = this.rounds[this.rounds.length - 1];
    if (open !== undefined && !open.sent) {
      open.index = Math.max(open.index, index);
      open.reads.push(read);
      return undefined;
    }
    const round: Round = { id: `read-${++this.sequence}`, index, reads: [read], acks: new Set([self]), sent: false };
    this.rounds.push(round);
    return round.id;
  }

  /** The newest round's id, which heartbeats carry so that any ack confirms the newest reads. */
  lastContext(): string {
    return this.rounds[this.rounds.length - 1]?.id ?? '';
  }

  markSent(): void {
    for (const round of this.rounds) round.sent = true;
  }

  /**
   * Records that `from` acknowledged the heartbeat of round `id`. Once a majority of `voters`
   * has, that round and every older one are confirmed: returns their reads with their indexes.
   */
  ack(id: string, from: NodeId, voters: readonly NodeId[]): Array<{ read: ReadRequest; index: number }> {
    const position = this.rounds.findIndex((round) => round.id === id);
    if (position < 0) return [];
    const round = this.rounds[position]!;
    round.acks.add(from);
    const votes = new Map(voters.map((voter) => [voter, round.acks.has(voter)] as const));
    if (voteResult(voters, votes) !== 'won') return [];
    const released = this.rounds.slice(0, position + 1);
    this.rounds = this.rounds.slice(position + 1);
    return released.flatMap((r) => r.reads.map((read) => ({ read, index: r.index })));
  }

  /** Confirms every round at once (a single-voter cluster needs no heartbeat). */
  releaseAll(): Array<{ read: ReadRequest; index: number }> {
    const released = this.rounds.flatMap((r) => r.reads.map((read) => ({ read, index: r.index })));
    this.rounds = [];
    return released;
  }

  clear(): void {
    this.rounds = [];
  }

  get pending(): number {
    return this.rounds.reduce((sum, round) => sum + round.reads.length, 0);
  }
}
