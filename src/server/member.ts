import { RawNode } from '../raft/raw-node.ts';
import { seededRandom } from '../raft/rand.ts';
import type { Message, NodeId } from '../raft/types.ts';
import type { DiskStorage } from '../storage/disk-storage.ts';
import type { AuthCommand } from './auth-command.ts';
import type { AuthOutcome } from './auth-state.ts';
import type { ServeConfig } from './config.ts';
import type { KeysCommand, TxnCommand } from './keys-command.ts';
import { LinearizableReads } from './linearizable-reads.ts';
import { MemberCore } from './member-core.ts';
import type { MemberEnv, MemberTransport } from './member-env.ts';
import type { Applied, AppliedTxn } from './member-fsm.ts';
import { MemberFsm } from './member-fsm.ts';
import { formatId } from './member-id.ts';
import type { MemberInfo } from './member-info.ts';
import { startPoint } from './member-start.ts';
import type { StartPoint } from './member-start.ts';
import { MembershipChanges } from './membership-changes.ts';
import { encodeKeysPayload } from './payload-codec.ts';
import type { Payload } from './payload.ts';
import { PeerRemotes } from './peer-remotes.ts';
import type { TransportHost } from './transport-host.ts';
import { Proposals, stoppedError, timeoutError } from './proposals.ts';
import { publishAttributes } from './publish-attributes.ts';
import { ReadyLoop } from './ready-loop.ts';
import type { BackupView } from './snapshot-backup.ts';
import { SnapshotScheduler } from './snapshot-scheduler.ts';
import { EXPIRY_SWEEP_MS, expiryProposal } from './ttl-expiry.ts';

const encoder = new TextEncoder();

/**
 * One member: its Raft core, storage and state machine, joined by the Ready loop (ready-loop.ts).
 * Writes are proposed with an id and answered when this member applies them. Everything from the
 * world outside (clock, timers, randomness, transport, storage) comes in as arguments.
 */
export class Member implements TransportHost {
  readonly id: NodeId;
  readonly name: string;
  readonly config: ServeConfig;
  readonly startTime: Date;
  readonly transport: MemberTransport;
  /** Called once when this member learns it was removed from the cluster. */
  onRemoved: (() => void) | undefined;
  private readonly env: MemberEnv;
  private readonly storage: DiskStorage;
  private readonly core: MemberCore;
  private readonly fsm: MemberFsm;
  private readonly proposals: Proposals;
  private readonly reads: LinearizableReads;
  private readonly membership: MembershipChanges;
  private readonly snapshots: SnapshotScheduler;
  private readonly loop: ReadyLoop;
  private readonly cancels: Array<() => void> = [];
  private readonly remotes = new PeerRemotes();
  private loopDone: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(config: ServeConfig, env: MemberEnv, storage: DiskStorage, start: StartPoint) {
    this.config = config;
    this.env = env;
    this.storage = storage;
    this.id = start.id;
    this.name = config.name;
    this.startTime = new Date(env.clock.now());
    const { clock, timers, log } = env;
    const snapshotIndex = storage.snapshot().meta.index;
    const node = new RawNode({
      id: start.id,
      electionTick: Math.round(config.electionTimeoutMs / config.heartbeatIntervalMs),
      heartbeatTick: 1,
      storage,
      applied: snapshotIndex,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      maxCommittedSizePerReady: 64 * 1024 * 1024,
      checkQuorum: true,
      preVote: true,
      random: seededRandom(Math.floor(env.random() * 0xffffffff) ^ start.id),
      peers: start.peers,
      catchUpTo: storage.catchUpTo,
    });
    this.core = new MemberCore(node, log, (what, cause) => this.failStop(what, cause), () => this.loop.wake());
    const running = () => this.core.running;
    this.fsm = new MemberFsm(start.id, start.replayFrom, snapshotIndex, (change) => this.core.applyConfChange(change), log);
    if (start.restored !== undefined) this.fsm.restore(start.restored, snapshotIndex);
    const storeIndex = () => this.fsm.store.index;
    const timeoutMs = this.requestTimeoutMs;
    this.proposals = new Proposals({ selfId: start.id, clock, timers, random: env.random, timeoutMs, propose: (data) => this.core.propose(data), running, storeIndex });
    this.reads = new LinearizableReads({ clock, timers, readIndex: (context) => this.core.readIndex(context), running, appliedIndex: () => this.fsm.appliedIndex, storeIndex }, formatId(start.id));
    this.membership = new MembershipChanges({
      selfId: start.id, clusterToken: config.initialClusterToken, electionTimeoutMs: config.electionTimeoutMs, timeoutMs, clock, timers, log,
      members: () => this.fsm.members, basicStatus: () => this.core.basicStatus(), status: () => this.core.status(), running,
      proposeConfChange: (change) => this.core.proposeConfChange(change), propose: (data) => this.core.propose(data), transferLeadership: (to) => this.core.transferLeadership(to),
    });
    this.snapshots = new SnapshotScheduler({
      storage, fsm: () => this.fsm, confState: () => this.core.status().confState, clock, log,
      snapshotCount: config.snapshotCount, catchupEntries: config.snapshotCatchupEntries, failStop: (what, cause) => this.failStop(what, cause),
    }, snapshotIndex);
    this.transport = env.transport(this);
    this.loop = new ReadyLoop({
      core: this.core, storage, fsm: this.fsm, proposals: this.proposals, reads: this.reads, membership: this.membership, snapshots: this.snapshots,
      transport: () => this.transport, clock, log, removed: () => this.learnRemoved('this member was removed from the cluster; it stops serving'),
    });
  }

  /** Opens the member on `storage` and joins (or bootstraps, or rejoins) the cluster. */
  static async start(config: ServeConfig, env: MemberEnv, storage: DiskStorage): Promise<Member> {
    for (const warning of storage.warnings) env.log.warn(warning);
    const start = await startPoint(config, storage, env);
    const member = new Member(config, env, storage, start);
    member.begin();
    env.log.info('member started', { name: config.name, id: formatId(start.id), cluster: formatId(member.clusterId), dataDir: config.dataDir, fresh: start.fresh });
    return member;
  }

  private begin(): void {
    const { timers } = this.env;
    this.cancels.push(timers.every(this.config.heartbeatIntervalMs, () => this.core.tick()));
    this.cancels.push(timers.every(EXPIRY_SWEEP_MS, () => this.maybeExpire()));
    this.loopDone = this.loop.run().catch((error: unknown) => this.failStop('cannot persist or apply', error));
    void publishAttributes({
      selfId: this.id, name: this.name, clientURLs: this.config.advertiseClientUrls, timers: this.env.timers, log: this.env.log, running: () => this.core.running,
      self: () => this.fsm.members.get(this.id), settled: () => this.fsm.appliedIndex > 0 && this.leader !== 0,
      propose: (data) => this.proposals.proposeUntilAccepted(data, this.env.clock.monotonic() + 1000),
    });
  }

  private maybeExpire(): void {
    const proposal = expiryProposal(this.isLeader, this.fsm.store, this.env.clock);
    if (proposal !== undefined) this.core.propose(proposal);
  }

  // --- the state, as the client API and the transport see it -----------------------------------

  get clusterId(): number { return this.fsm.clusterId; }
  get store() { return this.fsm.store; }
  get auth() { return this.fsm.auth; }
  get members(): ReadonlyMap<NodeId, MemberInfo> { return this.fsm.members; }
  get storeReplacedListeners(): Set<() => void> { return this.fsm.storeReplacedListeners; }
  get leader(): NodeId { return this.core.basicStatus().lead; }
  get isLeader(): boolean { return this.core.basicStatus().role === 'leader'; }
  get role(): string { return this.core.basicStatus().role; }
  get term(): number { return this.core.basicStatus().term; }
  get raftIndex(): number { return this.fsm.appliedIndex; }
  get commitIndex(): number { return this.core.basicStatus().commit; }
  get lastIndex(): number { return this.core.basicStatus().lastIndex; }
  get dataDir(): string { return this.config.dataDir; }
  get requestTimeoutMs(): number { return 5000 + 2 * this.config.electionTimeoutMs; }
  get pendingProposals(): number { return this.proposals.size; }
  get fsyncMillis(): readonly number[] { return this.loop.fsyncMillis; }
  get counters() { return { proposalsCommitted: this.fsm.committed, proposalsFailed: this.proposals.failed, leaderChanges: this.loop.leaderChanges }; }
  memberList(): Iterable<MemberInfo> { return this.fsm.members.values(); }
  backupView(): BackupView { return this.fsm.backupView(this.term, this.name); }

  // --- TransportHost ---------------------------------------------------------------------------

  peerUrlsOf(id: NodeId): readonly string[] | undefined { return this.fsm.members.get(id)?.peerURLs ?? this.remotes.urlsOf(id); }
  admits(from: NodeId, urls: readonly string[] | undefined): boolean { return this.remotes.admit(from, urls, this.isMember(from), this.isRemoved(from)); }
  isRemoved(id: NodeId): boolean { return this.fsm.removedIds.has(id); }
  isMember(id: NodeId): boolean { return this.fsm.members.has(id); }
  reportUnreachable(id: NodeId): void { this.core.reportUnreachable(id); }
  reportSnapshot(id: NodeId, succeeded: boolean): void { this.core.reportSnapshot(id, succeeded); }
  snapshotImage(index: number): Promise<Uint8Array> { return this.storage.snapshotImage(index); }
  checkSnapshot(data: Uint8Array): Promise<void> { return this.loop.checkSnapshot(data); }

  receive(messages: readonly Message[]): void {
    for (const m of messages) if (this.core.running) this.core.step(m);
  }

  /** A peer answered 410 Gone: this member was removed while it could not hear of it. */
  removedByPeer(): void {
    if (!this.core.running || this.fsm.removedIds.has(this.id)) return;
    this.fsm.removedIds.add(this.id);
    this.learnRemoved('a peer says this member was removed from the cluster; it stops serving');
  }

  private learnRemoved(why: string): void {
    this.env.log.warn(why);
    queueMicrotask(() => this.onRemoved?.());
  }

  // --- requests --------------------------------------------------------------------------------

  /** Proposes a keys command; resolves when this member has applied it. */
  proposeKeys(command: KeysCommand): Promise<Applied> {
    const id = this.proposals.nextId();
    return this.proposals.propose<Applied>(id, encodeKeysPayload(id, command));
  }

  /** Proposes a transaction; resolves when this member has applied it, rejects with its failed operation. */
  proposeTxn(command: TxnCommand): Promise<AppliedTxn> {
    const id = this.proposals.nextId();
    return this.proposals.propose<AppliedTxn>(id, encoder.encode(JSON.stringify({ kind: 'txn', id, command } satisfies Payload)));
  }

  /** Proposes a change of users, roles or the auth switch; resolves with its outcome once applied here. */
  proposeAuth(command: AuthCommand): Promise<AuthOutcome> {
    const id = this.proposals.nextId();
    return this.proposals.propose<AuthOutcome>(id, encoder.encode(JSON.stringify({ kind: 'auth', id, command } satisfies Payload)));
  }

  /** Resolves once this member's store reflects every write acknowledged before the call (ReadIndex). */
  linearizableRead(timeoutMs = this.requestTimeoutMs): Promise<void> {
    return this.reads.read(timeoutMs);
  }

  addMember(peerURLs: readonly string[], isLearner: boolean): Promise<MemberInfo> { return this.membership.add(peerURLs, isLearner); }
  removeMember(id: NodeId): Promise<void> { return this.membership.remove(id); }
  updateMember(id: NodeId, peerURLs: readonly string[]): Promise<void> { return this.membership.update(id, peerURLs); }
  promoteMember(id: NodeId): Promise<MemberInfo> { return this.membership.promote(id); }
  handOverLeadership(id: NodeId): Promise<void> { return this.membership.handOver(id); }
  transferLeadership(to: NodeId, timeoutMs: number): Promise<boolean> { return this.membership.transferLeadership(to, timeoutMs); }

  bestTransferTarget(): NodeId | undefined { return this.membership.bestTransferTarget(); }

  // --- stopping --------------------------------------------------------------------------------

  /**
   * Fail-stop: this member cannot go on (a write did not persist, an entry did not apply, the
   * core broke an invariant). Nothing more is applied or answered; requests in flight fail (none
   * is answered success for a write that did not persist), and `fatal` stops the process so that a
   * supervisor restarts it. The data dir holds everything acknowledged; a restart rejoins.
   */
  private failStop(what: string, cause: unknown): void {
    if (this.stopped) return;
    this.halt(stoppedError(this.fsm.store.index));
    this.env.fatal(what, cause);
  }

  private halt(answer: Error): void {
    this.stopped = true;
    this.core.halt();
    for (const cancel of this.cancels) cancel();
    this.loop.stop();
    this.proposals.failAll(answer);
    this.transport.close();
  }

  /** Stops the loop and timers, waits for in-flight proposals (bounded), closes the storage. */
  async stop(): Promise<void> {
    const until = this.env.clock.monotonic() + 2000;
    while (this.proposals.size > 0 && this.env.clock.monotonic() < until) await new Promise((resolve) => this.env.timers.after(20, () => resolve(undefined)));
    if (!this.stopped) this.halt(timeoutError(this.fsm.store.index));
    await this.loopDone;
    await this.snapshots.idle();
    await this.storage.close();
  }
}
