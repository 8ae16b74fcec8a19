import type { Dropped } from '../raft/errors.ts';
import type { BasicStatus, RawNode, Ready, Status } from '../raft/raw-node.ts';
import type { ConfChange, ConfState, Message, NodeId } from '../raft/types.ts';
import type { Logger } from './logger.ts';

/**
 * The member's one door into its Raft core. A proposal or read the core drops (no leader, a
 * transfer, a pending change) comes back as `false`, for the caller to try again; anything the
 * core throws is a broken invariant: `stop` is called (fail-stop) and every later call is refused.
 */
export class MemberCore {
  private readonly node: RawNode;
  private readonly stop: (what: string, cause: unknown) => void;
  /** Wakes the Ready loop: the core may have something to persist, send or apply. */
  private readonly wake: () => void;
  private readonly log: Logger;
  private broken = false;
  /** The data dir lost entries this member had acknowledged: it does not vote until caught up. */
  private catchingUp: boolean;

  constructor(node: RawNode, log: Logger, stop: (what: string, cause: unknown) => void, wake: () => void) {
    this.node = node;
    this.log = log;
    this.stop = stop;
    this.wake = wake;
    this.catchingUp = !node.basicStatus().caughtUp;
  }

  get running(): boolean {
    return !this.broken;
  }

  /** After a fail-stop from elsewhere (storage): the core takes nothing more. */
  halt(): void {
    this.broken = true;
  }

  basicStatus(): BasicStatus {
    return this.node.basicStatus();
  }

  status(): Status {
    return this.node.status();
  }

  // The Ready loop's calls: what they throw, the loop turns into a fail-stop.

  hasReady(): boolean {
    return !this.broken && this.node.hasReady();
  }

  ready(): Ready {
    return this.node.ready();
  }

  advance(rd: Ready): void {
    this.node.advance(rd);
  }

  applyConfChange(change: ConfChange): ConfState {
    return this.node.applyConfChange(change);
  }

  /** A member alone in its cluster need not wait an election timeout to lead. */
  campaignIfAlone(): void {
    const status = this.node.status();
    const voters = status.confState.voters;
    if (status.lead === 0 && status.role === 'follower' && voters.length === 1 && voters[0] === status.id) this.node.campaign();
  }

  /** Proposes data; false when dropped. */
  propose(data: Uint8Array): boolean {
    return this.call('a proposal', () => this.node.propose(data));
  }

  proposeConfChange(change: ConfChange): boolean {
    return this.call('a membership change', () => this.node.proposeConfChange(change));
  }

  /** Asks for a ReadIndex; false when dropped. */
  readIndex(context: string): boolean {
    return this.call('a read', () => this.node.readIndex(context));
  }

  /** A message from a peer (validated by the transport before it gets here). */
  step(message: Message): void {
    this.call('a peer message', () => this.node.step(message));
  }

  tick(): void {
    this.call('a tick', () => this.node.tick());
    if (this.catchingUp && this.node.basicStatus().caughtUp) {
      this.catchingUp = false;
      this.log.info('caught up on the entries the data dir lost: this member votes again', { commit: this.node.basicStatus().commit });
    }
  }

  transferLeadership(to: NodeId): void {
    this.call('a leadership transfer', () => this.node.transferLeadership(to));
  }

  reportUnreachable(id: NodeId): void {
    this.call('an unreachable peer', () => this.node.reportUnreachable(id));
  }

  reportSnapshot(id: NodeId, succeeded: boolean): void {
    this.call('a snapshot report', () => this.node.reportSnapshot(id, succeeded));
  }

  private call(what: string, call: () => Dropped | undefined | void): boolean {
    if (this.broken) return false;
    let result: Dropped | undefined | void;
    try {
      result = call();
    } catch (error) {
      this.broken = true;
      this.stop(`the Raft core failed on ${what}`, error);
      return false;
    }
    this.wake();
    return result === undefined;
  }
}
