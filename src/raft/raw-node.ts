import type { Dropped } from './errors.ts';
import type { RaftConfig } from './raft.ts';
import { Raft, encodeConfChange } from './raft.ts';
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, ReadState, Snapshot, SoftState } from './types.ts';
import { isLocalMessage, message } from './types.ts';

/**
 * What the driver must do, in this order: persist hardState, entries and snapshot (with a sync
 * when mustSync); send `messages` (allowed before the persist finishes) and `messagesAfterSync`
 * (only after it); apply snapshot and committedEntries; then call advance().
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly readStates: readonly ReadState[];
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly messagesAfterSync: readonly Message[];
  readonly mustSync: boolean;
}

/** What the core is now, cheap to take on every request (etcd's BasicStatus). */
export interface BasicStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lead: NodeId;
  readonly role: SoftState['role'];
  readonly lastIndex: number;
  readonly leadTransferee: NodeId;
  /** Whether the commit index reached what a damaged data dir had acknowledged (RaftConfig.catchUpTo). */
  readonly caughtUp: boolean;
}

/** BasicStatus with the configuration and, on a leader, each peer's progress (etcd's Status). */
export interface Status extends BasicStatus {
  readonly confState: ConfState;
  readonly progress: ReadonlyMap<NodeId, { match: number; next: number; state: string; recentActive: boolean }>;
}

/** The driver's handle on the core: inputs as methods, output as Ready. One Ready at a time. */
export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private readyOutstanding = false;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.raft.softState();
    this.prevHard = config.storage.initialState().hardState;
  }

  tick(): void {
    this.raft.tick();
  }

  campaign(): void {
    this.raft.step(message({ type: 'hup', from: this.raft.id }));
  }

  /** Proposes data; Dropped when there is no leader to take it (try again later). */
  propose(data: Uint8Array): Dropped | undefined {
    return this.raft.step(message({ type: 'prop', from: this.raft.id, entries: [{ term: 0, index: 0, type: 'normal', data }] }));
  }

  /** Proposes several entries in one append (one message, one fsync on every member). */
  proposeBatch(data: readonly Uint8Array[]): Dropped | undefined {
    if (data.length === 0) return undefined;
    const entries = data.map((d) => ({ term: 0, index: 0, type: 'normal' as const, data: d }));
    return this.raft.step(message({ type: 'prop', from: this.raft.id, entries }));
  }

  proposeConfChange(change: ConfChange): Dropped | undefined {
    const entry = { term: 0, index: 0, type: 'confChange' as const, data: encodeConfChange(change) };
    return this.raft.step(message({ type: 'prop', from: this.raft.id, entries: [entry] }));
  }

  /** Steps a message from a peer. Local message kinds are refused: they never travel. */
  step(m: Message): Dropped | undefined {
    if (isLocalMessage(m.type)) throw new Error(`raft: ${m.type} is a local message and cannot come from the network`);
    return this.raft.step(m);
  }

  /** Asks for a linearizable read; a ReadState with the same context comes back in a Ready. */
  readIndex(context: string): Dropped | undefined {
    return this.raft.step(message({ type: 'readIndex', from: this.raft.id, context }));
  }

  transferLeadership(transferee: NodeId): void {
    this.raft.step(message({ type: 'transferLeader', from: transferee, to: this.raft.id }));
  }

  reportUnreachable(id: NodeId): void {
    this.raft.step(message({ type: 'unreachable', from: id }));
  }

  reportSnapshot(id: NodeId, succeeded: boolean): void {
    this.raft.step(message({ type: 'snapStatus', from: id, reject: !succeeded }));
  }

  applyConfChange(change: ConfChange): ConfState {
    return this.raft.applyConfChange(change);
  }

  hasReady(): boolean {
    const r = this.raft;
    return (
      !sameSoft(r.softState(), this.prevSoft) ||
      !sameHard(r.hardState(), this.prevHard) ||
      r.log.unstableEntries.length > 0 ||
      r.log.unstableSnapshot !== undefined ||
      r.msgs.length > 0 ||
      r.msgsAfterSync.length > 0 ||
      r.readStates.length > 0 ||
      r.log.committed > r.log.applied
    );
  }

  ready(): Ready {
    if (this.readyOutstanding) throw new Error('raft: ready() called again before advance()');
    this.readyOutstanding = true;
    const r = this.raft;
    r.flushAppends();
    const soft = r.softState();
    const hard = r.hardState();
    const entries = [...r.log.unstableEntries];
    const snapshot = r.log.unstableSnapshot;
    const hardChanged = !sameHard(hard, this.prevHard);
    const rd: Ready = {
      ...(sameSoft(soft, this.prevSoft) ? {} : { softState: soft }),
      ...(hardChanged ? { hardState: hard } : {}),
      readStates: r.readStates,
      entries,
      ...(snapshot !== undefined ? { snapshot } : {}),
      committedEntries: r.log.nextCommittedEntries(),
      messages: r.msgs,
      messagesAfterSync: r.msgsAfterSync,
      mustSync: entries.length > 0 || snapshot !== undefined || (hardChanged && (hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote)),
    };
    r.msgs = [];
    r.msgsAfterSync = [];
    r.readStates = [];
    r.readOnly.markSent();
    return rd;
  }

  advance(rd: Ready): void {
    if (!this.readyOutstanding) throw new Error('raft: advance() without a ready()');
    this.readyOutstanding = false;
    const r = this.raft;
    if (rd.softState !== undefined) this.prevSoft = rd.softState;
    if (rd.hardState !== undefined) this.prevHard = rd.hardState;
    if (rd.snapshot !== undefined) {
      r.log.stableSnapTo(rd.snapshot.meta.index);
      if (rd.snapshot.meta.index > r.log.applied) r.log.appliedTo(rd.snapshot.meta.index);
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) r.log.appliedTo(lastCommitted.index);
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) r.onDurable(lastEntry.index, lastEntry.term);
  }

  basicStatus(): BasicStatus {
    const r = this.raft;
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lead: r.lead,
      role: r.role,
      lastIndex: r.log.lastIndex(),
      leadTransferee: r.leadTransferee,
      caughtUp: r.caughtUp(),
    };
  }

  status(): Status {
    const r = this.raft;
    const progress = new Map<NodeId, { match: number; next: number; state: string; recentActive: boolean }>();
    for (const [id, pr] of r.tracker.progress) progress.set(id, { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive });
    return { ...this.basicStatus(), confState: r.tracker.confState(), progress };
  }
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.role === b.role;
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
