import { SnapshotTemporarilyUnavailableError } from './errors.ts';
import type { Dropped } from './errors.ts';
import { dropped } from './errors.ts';
import { RaftLog } from './log.ts';
import { ReadOnly } from './read-only.ts';
import type { ReadRequest } from './read-only.ts';
import type { Storage } from './storage.ts';
import { ProgressTracker } from './tracker.ts';
import type { ConfChange, ConfState, Entry, HardState, Message, MessageType, NodeId, ReadState, Snapshot, SoftState, StateRole } from './types.ts';
import { NONE, isLocalMessage, message } from './types.ts';

export interface RaftConfig {
  readonly id: NodeId;
  /** Ticks without a leader's word before a follower campaigns (randomised up to twice this). */
  readonly electionTick: number;
  /** Ticks between a leader's heartbeats; must be below electionTick. */
  readonly heartbeatTick: number;
  readonly storage: Storage;
  /** The last index the state machine applied before a restart. */
  readonly applied?: number;
  /** Byte limit of one append message's entries (at least one entry is always sent). */
  readonly maxSizePerMsg: number;
  /** Append messages in flight per follower in the replicate state. */
  readonly maxInflightMsgs: number;
  /** Byte limit of the committed entries one Ready hands out. */
  readonly maxCommittedSizePerReady?: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  /** The only source of randomness: a seeded PRNG in [0, 1). */
  readonly random: () => number;
  /** Members of a brand-new cluster (ignored when storage already has state). */
  readonly peers?: readonly NodeId[];
  /**
   * The commit index this member had acknowledged before its storage lost entries (its hard
   * state committed past what it still holds). Until a leader has brought its commit index back
   * to here, it neither campaigns nor grants votes or pre-votes: a member that forgot entries it
   * helped commit could otherwise elect a leader without them (section 5.4.1's Leader Completeness
   * rests on every voter that acknowledged an entry still holding it), and that leader would
   * overwrite an entry already reported committed. It still takes and acknowledges a leader's
   * entries: that is how it catches up, and a leader holds every committed entry. And it answers
   * each heartbeat with where its log really ends, so that the leader stops counting the
   * acknowledgements it gave before the loss towards committing anything.
   */
  readonly catchUpTo?: number;
}

/** A campaign started by a leadership transfer ignores leases and skips pre-vote. */
const TRANSFER_CONTEXT = 'transfer';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify(change));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  return JSON.parse(decoder.decode(data)) as ConfChange;
}

/**
 * The Raft state machine (Ongaro's thesis). Everything enters through `step` (ticks become local
 * messages); a role is a choice of step and tick behaviour made by the become* transitions.
 * Output is data only: `msgs` may be sent at once, `msgsAfterSync` only after the next Ready's
 * state is durable. A leader counts its own entries towards commit only once they are durable.
 */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  role: StateRole = 'follower';
  lead: NodeId = NONE;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  msgs: Message[] = [];
  msgsAfterSync: Message[] = [];
  readStates: ReadState[] = [];
  /** Ticks since the last election timeout reset (or, on a leader, since the last quorum check). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NONE;
  /** Index of the latest configuration change; another may be proposed once it is applied. */
  pendingConfIndex = 0;
  readonly readOnly = new ReadOnly();
  /** Proposals were appended and not yet sent to the followers. */
  private appendsPending = false;
  /** Reads that reached the leader before it committed an entry in its term (section 6.4 step 1). */
  private pendingReads: ReadRequest[] = [];
  private readonly config: RaftConfig;

  constructor(config: RaftConfig) {
    if (config.id === NONE) throw new Error('raft: the id must not be 0');
    if (config.heartbeatTick <= 0 || config.electionTick <= config.heartbeatTick) {
      throw new Error('raft: need 0 < heartbeatTick < electionTick');
    }
    this.config = config;
    this.id = config.id;
    this.log = new RaftLog(config.storage, config.maxCommittedSizePerReady ?? Number.MAX_SAFE_INTEGER);
    this.tracker = new ProgressTracker(config.maxInflightMsgs);
    const { hardState, confState } = config.storage.initialState();
    this.tracker.reset(confState, this.log.lastIndex() + 1);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadHardState(hardState);
    if (config.applied !== undefined && config.applied > 0) this.log.appliedTo(config.applied);
    this.becomeFollower(this.term, NONE);
    if (config.peers !== undefined && config.peers.length > 0 && this.log.lastIndex() === 0 && this.term === 0) this.bootstrap(config.peers);
  }

  /** A new cluster: one committed configuration entry per member at term 1, as etcd does. */
  private bootstrap(peers: readonly NodeId[]): void {
    this.becomeFollower(1, NONE);
    const entries = peers.map((nodeId, i) => ({ term: 1, index: i + 1, type: 'confChange' as const, data: encodeConfChange({ type: 'addNode', nodeId }) }));
    this.log.append(entries);
    this.log.commitTo(entries.length);
    for (const nodeId of peers) this.tracker.apply({ type: 'addNode', nodeId }, this.log.lastIndex() + 1);
  }

  private loadHardState(hardState: HardState): void {
    if (hardState.commit < this.log.committed || hardState.commit > this.log.lastIndex()) {
      throw new Error(`raft: hard state commit ${hardState.commit} is outside [${this.log.committed}, ${this.log.lastIndex()}]`);
    }
    this.log.committed = hardState.commit;
    this.term = hardState.term;
    this.vote = hardState.vote;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  get electionTimeout(): number {
    return this.config.electionTick;
  }

  /** Whether this member may become leader: a voter of the current configuration, caught up. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id) && this.caughtUp();
  }

  /** Whether the commit index reached what this member had acknowledged before a loss (RaftConfig.catchUpTo). */
  caughtUp(): boolean {
    return this.log.committed >= (this.config.catchUpTo ?? 0);
  }

  // --- sending -------------------------------------------------------------------------------

  private send(fields: Partial<Message> & Pick<Message, 'type' | 'to'>): void {
    const m = message({ from: this.id, ...fields });
    const withTerm = m.term === 0 && m.type !== 'prop' && m.type !== 'readIndex' && m.type !== 'transferLeader' ? { ...m, term: this.term } : m;
    // Votes, their answers and append answers speak for durable state: they wait for the sync.
    if (afterSync(withTerm.type)) this.msgsAfterSync.push(withTerm);
    else this.msgs.push(withTerm);
  }

  /** Sends entries (or a snapshot) to a follower; returns whether anything was sent. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.paused) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    let entries: Entry[] | undefined;
    try {
      entries = this.log.entriesFrom(pr.next, this.config.maxSizePerMsg);
    } catch {
      entries = undefined;
    }
    if (prevTerm !== undefined && entries !== undefined) {
      if (entries.length === 0 && !sendIfEmpty) return false;
      this.send({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
      pr.sentEntries(prevIndex + entries.length, entries.length);
      return true;
    }
    // The entries are compacted away: send the snapshot instead.
    if (!pr.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (error) {
      if (error instanceof SnapshotTemporarilyUnavailableError) return false;
      throw error;
    }
    if (snapshot.meta.index === 0) throw new Error('raft: a snapshot is needed but storage has none');
    this.send({ type: 'snap', to, snapshot });
    pr.becomeSnapshot(snapshot.meta.index);
    return true;
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  private bcastAppend(): void {
    for (const id of this.tracker.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      this.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, this.log.committed), context });
    }
  }

  // --- transitions ---------------------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.config.electionTick + Math.floor(this.config.random() * this.config.electionTick);
    this.leadTransferee = NONE;
    this.tracker.resetVotes();
    const next = this.log.lastIndex() + 1;
    for (const [id, pr] of this.tracker.progress) {
      pr.becomeProbe();
      pr.match = id === this.id ? this.durableLastIndex() : 0;
      pr.next = next;
      pr.recentActive = id === this.id;
    }
    this.pendingConfIndex = 0;
    this.readOnly.clear();
    this.pendingReads = [];
  }

  /** The last index that is durable here (unstable entries are not). */
  private durableLastIndex(): number {
    return this.log.unstableEntries.length > 0 ? this.log.unstableOffset - 1 : this.log.lastIndex();
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  becomePreCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: invalid transition leader -> preCandidate');
    // Pre-vote changes neither the term nor the vote (section 9.6).
    this.tracker.resetVotes();
    this.lead = NONE;
    this.role = 'preCandidate';
  }

  becomeCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: invalid transition leader -> candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  becomeLeader(): void {
    if (this.role === 'follower') throw new Error('raft: invalid transition follower -> leader');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    this.tracker.progress.get(this.id)?.becomeReplicate();
    // No configuration change until everything from earlier terms is applied.
    this.pendingConfIndex = this.log.lastIndex();
    // An empty entry of the new term commits everything before it (section 5.4.2, section 8).
    this.appendEntries([{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }]);
  }

  // --- ticks ---------------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(message({ type: 'hup', from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTick) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) this.step(message({ type: 'checkQuorum', from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === 'leader') this.leadTransferee = NONE;
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.config.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: 'beat', from: this.id }));
    }
  }

  // --- elections -----------------------------------------------------------------------------

  /** `pre`: a pre-vote round first (section 9.6); a transfer's campaign skips it and ignores leases. */
  private campaign(kind: 'pre' | 'election' | 'transfer'): void {
    if (!this.promotable()) return;
    const pre = kind === 'pre';
    const transfer = kind === 'transfer';
    if (pre) this.becomePreCandidate();
    else this.becomeCandidate();
    const voteType: MessageType = pre ? 'preVote' : 'vote';
    const term = pre ? this.term + 1 : this.term;
    this.tracker.recordVote(this.id, true);
    if (this.tracker.tallyVotes() === 'won') {
      // A single voter wins at once.
      if (pre) this.campaign('election');
      else this.becomeLeader();
      return;
    }
    for (const id of [...this.tracker.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send({ type: voteType, to: id, term, index: this.log.lastIndex(), logTerm: this.log.lastTerm(), context: transfer ? TRANSFER_CONTEXT : '' });
    }
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) return;
    // A configuration change committed but not applied may remove us: wait for it.
    for (const entry of this.log.nextCommittedEntries()) if (entry.type === 'confChange') return;
    this.campaign(transfer ? 'transfer' : this.config.preVote ? 'pre' : 'election');
  }

  // --- step ----------------------------------------------------------------------------------

  /**
   * The one entry point: every message, local or remote, is stepped here. A proposal or read that
   * cannot be taken now comes back as Dropped (the caller may try again); nothing else is returned.
   */
  step(m: Message): Dropped | undefined {
    if (m.term > this.term && !isLocalMessage(m.type)) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = m.context === TRANSFER_CONTEXT;
        const inLease = this.config.checkQuorum && this.lead !== NONE && this.electionElapsed < this.config.electionTick;
        // A member that heard from a leader recently ignores disruptive candidates (section 4.2.3).
        if (!force && inLease) return;
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && !m.reject)) {
        // Pre-votes never change our term; a granted pre-vote carries the future term.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term && m.term !== 0) {
      if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // Tell a stale leader about the newer term, so that it steps down.
        this.send({ type: 'appResp', to: m.from });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', to: m.from, reject: true });
      }
      return;
    }

    switch (m.type) {
      case 'hup':
        this.hup(false);
        return;
      case 'vote':
      case 'preVote':
        this.handleVote(m);
        return;
      default:
        break;
    }
    switch (this.role) {
      case 'leader':
        return this.stepLeader(m);
      case 'candidate':
      case 'preCandidate':
        return this.stepCandidate(m);
      case 'follower':
        return this.stepFollower(m);
    }
  }

  private handleVote(m: Message): void {
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    const canVote = this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (m.type === 'preVote' && m.term > this.term);
    if (canVote && this.caughtUp() && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, reject: true, term: this.term });
    }
  }

  private stepLeader(m: Message): Dropped | undefined {
    switch (m.type) {
      case 'beat':
        this.bcastHeartbeat(this.readOnly.lastContext());
        return;
      case 'checkQuorum':
        if (!this.tracker.quorumActive(this.id)) {
          this.becomeFollower(this.term, NONE);
          return;
        }
        for (const [id, pr] of this.tracker.progress) pr.recentActive = id === this.id;
        return;
      case 'prop':
        return this.handleProposal(m);
      case 'readIndex':
        this.handleReadIndex({ from: m.from, context: m.context });
        return;
      case 'transferLeader':
        this.handleTransferLeader(m.from);
        return;
      default:
        break;
    }
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case 'appResp':
        pr.recentActive = true;
        if (m.reject) {
          if (m.rejectHint < pr.match && pr.state !== 'snapshot') {
            // Its log ends before what it acknowledged: it lost entries (RaftConfig.catchUpTo), or
            // this rejection is older than its acknowledgements. Count only what it holds.
            pr.match = m.rejectHint;
            pr.becomeProbe();
            this.sendAppend(m.from);
            return;
          }
          const hint = m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm).index : m.rejectHint;
          if (pr.maybeDecrTo(m.index, hint)) {
            if (pr.state === 'replicate') pr.becomeProbe();
            this.sendAppend(m.from);
          }
          return;
        }
        this.handleAppendAccepted(m.from, m.index);
        return;
      case 'heartbeatResp':
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        if (m.context !== '' && this.tracker.isVoter(m.from)) this.releaseReads(this.readOnly.ack(m.context, m.from, [...this.tracker.voters]));
        return;
      case 'snapStatus':
        if (pr.state !== 'snapshot') return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the next heartbeat answer before probing again.
        pr.probeSent = true;
        return;
      case 'unreachable':
        if (pr.state === 'replicate') pr.becomeProbe();
        return;
      default:
        return;
    }
  }

  private handleAppendAccepted(from: NodeId, index: number): void {
    const pr = this.tracker.progress.get(from)!;
    const wasPaused = pr.paused;
    // A probe answered at the known match also ends probing.
    if (!pr.maybeUpdate(index) && !(pr.state === 'probe' && pr.match === index)) {
      if (pr.state === 'replicate') pr.inflights.freeLE(index);
      return;
    }
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(index);
    if (this.maybeCommit()) this.bcastAppend();
    else if (wasPaused) this.sendAppend(from);
    while (this.maybeSendAppend(from, false)) {
      // keep the pipeline full
    }
    if (from === this.leadTransferee && pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to: from });
  }

  private handleProposal(m: Message): Dropped | undefined {
    if (m.entries.length === 0) throw new Error('raft: a proposal without entries');
    if (!this.tracker.progress.has(this.id)) return dropped('this member was removed from the cluster');
    if (this.leadTransferee !== NONE) return dropped(`leadership is being transferred to ${this.leadTransferee}`);
    const changeBlocked = this.pendingConfIndex > this.log.applied;
    if (changeBlocked && m.from === this.id && m.entries.some((entry) => entry.type === 'confChange')) return dropped('a configuration change is already in progress');
    const entries = m.entries.map((entry, i) => {
      if (entry.type !== 'confChange') return entry;
      if (changeBlocked) {
        // A forwarded change cannot be refused to its sender: it becomes an empty entry, as in etcd.
        return { ...entry, type: 'normal' as const, data: new Uint8Array(0) };
      }
      this.pendingConfIndex = this.log.lastIndex() + i + 1;
      return entry;
    });
    this.appendEntries(entries);
    // Sent when the driver asks for the next Ready, so that every proposal until then travels in
    // one append per follower.
    this.appendsPending = true;
    return undefined;
  }

  /** Sends the appends that proposals since the last Ready made necessary. */
  flushAppends(): void {
    if (!this.appendsPending) return;
    this.appendsPending = false;
    if (this.role === 'leader') this.bcastAppend();
  }

  private appendEntries(entries: readonly Entry[]): void {
    const last = this.log.lastIndex();
    this.log.append(entries.map((entry, i) => ({ term: this.term, index: last + 1 + i, type: entry.type, data: entry.data })));
  }

  /** Section 5.3/section 5.4.2: commit what a majority of voters has durably, if it is of this term. */
  private maybeCommit(): boolean {
    const committed = this.log.maybeCommit(this.tracker.committed(), this.term);
    if (committed && this.pendingReads.length > 0 && this.committedEntryInCurrentTerm()) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const read of reads) this.handleReadIndex(read);
    }
    return committed;
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private handleReadIndex(read: ReadRequest): void {
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReads.push(read);
      return;
    }
    const round = this.readOnly.add(read, this.log.committed, this.id);
    if (this.tracker.isSingleVoter(this.id)) {
      this.releaseReads(this.readOnly.releaseAll());
      return;
    }
    if (round !== undefined) this.bcastHeartbeat(round);
  }

  private releaseReads(released: ReadonlyArray<{ read: ReadRequest; index: number }>): void {
    for (const { read, index } of released) {
      if (read.from === this.id) this.readStates.push({ index, context: read.context });
      else this.send({ type: 'readIndexResp', to: read.from, index, context: read.context });
    }
  }

  private handleTransferLeader(transferee: NodeId): void {
    const pr = this.tracker.progress.get(transferee);
    if (pr === undefined || pr.isLearner || transferee === this.id) return;
    if (this.leadTransferee === transferee) return;
    this.leadTransferee = transferee;
    // The transfer must finish within an election timeout.
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to: transferee });
    else this.sendAppend(transferee);
  }

  private stepCandidate(m: Message): Dropped | undefined {
    const myResponse = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'prop':
        return dropped('no leader (an election is in progress)');
      case 'readIndex':
        return dropped('no leader to confirm a read (an election is in progress)');
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      default:
        break;
    }
    if (m.type !== myResponse) return;
    this.tracker.recordVote(m.from, !m.reject);
    const result = this.tracker.tallyVotes();
    if (result === 'won') {
      if (this.role === 'preCandidate') this.campaign('election');
      else {
        this.becomeLeader();
        this.bcastAppend();
      }
    } else if (result === 'lost') {
      this.becomeFollower(this.term, NONE);
    }
    return undefined;
  }

  private stepFollower(m: Message): Dropped | undefined {
    switch (m.type) {
      case 'prop':
        if (this.lead === NONE) return dropped('no leader');
        this.send({ ...m, to: this.lead, from: m.from });
        return;
      case 'readIndex':
        if (this.lead === NONE) return dropped('no leader to confirm a read');
        this.send({ type: 'readIndex', to: this.lead, context: m.context });
        return;
      case 'transferLeader':
        if (this.lead !== NONE) this.send({ type: 'transferLeader', to: this.lead, from: m.from });
        return;
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        this.hup(true);
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: 'appResp', to: m.from, index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send({ type: 'appResp', to: m.from, index: lastNew });
      return;
    }
    // Reject with a hint: the last index at or below m.index whose term is <= m.logTerm.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({ type: 'appResp', to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: 'heartbeatResp', to: m.from, context: m.context });
    if (!this.caughtUp()) {
      // The leader may still count acknowledgements of entries this member lost: say where its
      // log ends, so that it counts only what this member holds.
      const last = this.log.lastIndex();
      this.send({ type: 'appResp', to: m.from, index: last, reject: true, rejectHint: last, logTerm: this.log.lastTerm() });
    }
  }

  private handleSnapshot(m: Message): void {
    const snapshot = m.snapshot!;
    if (this.restore(snapshot)) this.send({ type: 'appResp', to: m.from, index: this.log.lastIndex() });
    else this.send({ type: 'appResp', to: m.from, index: this.log.committed });
  }

  /** Installs a leader's snapshot unless our log already has it; returns whether it did. */
  private restore(snapshot: Snapshot): boolean {
    const { index, term, confState } = snapshot.meta;
    if (index <= this.log.committed) return false;
    // A member added after this snapshot was taken is not in its membership yet: it installs it
    // anyway and learns of its own addition from the entries that follow.
    if (this.log.matchTerm(index, term)) {
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.tracker.reset(confState, this.log.lastIndex() + 1);
    return true;
  }

  // --- membership ----------------------------------------------------------------------------

  /** Applies a committed configuration change (the driver calls it when it applies the entry). */
  applyConfChange(change: ConfChange): ConfState {
    const confState = this.tracker.apply(change, this.log.lastIndex() + 1);
    if (this.role !== 'leader') return confState;
    if (!this.tracker.progress.has(this.id) || !this.tracker.isVoter(this.id)) {
      // A leader removed from the configuration steps down (section 4.2.2).
      this.becomeFollower(this.term, NONE);
      return confState;
    }
    if (this.leadTransferee !== NONE && !this.tracker.progress.has(this.leadTransferee)) this.leadTransferee = NONE;
    // A smaller quorum may commit more; a new member needs the log.
    if (this.maybeCommit()) this.bcastAppend();
    else if (change.type !== 'removeNode' && change.nodeId !== this.id) this.sendAppend(change.nodeId);
    return confState;
  }

  // --- durability ----------------------------------------------------------------------------

  /** The driver made entries up to (index, term) durable: a leader may now count them. */
  onDurable(index: number, term: number): void {
    this.log.stableTo(index, term);
    if (this.role !== 'leader') return;
    const self = this.tracker.progress.get(this.id);
    if (self !== undefined && self.maybeUpdate(this.durableLastIndex()) && this.maybeCommit()) this.bcastAppend();
  }
}

/** Messages that assert durable state and so wait until the Ready that made them is synced. */
function afterSync(type: MessageType): boolean {
  return type === 'vote' || type === 'voteResp' || type === 'appResp';
}
