import { ProposalDroppedError } from '../raft/errors.ts';
import { RawNode } from '../raft/raw-node.ts';
import type { Ready } from '../raft/raw-node.ts';
import { seededRandom } from '../raft/rand.ts';
import type { ConfChangeType, Entry, Message, NodeId } from '../raft/types.ts';
import { DiskStorage } from '../storage/disk-storage.ts';
import type { StoreEvent } from '../store/event.ts';
import { decodeImage } from '../storage/image.ts';
import { DataDirError } from '../storage/errors.ts';
import { storeHeader } from '../store/snapshot.ts';
import { Store } from '../store/store.ts';
import { ErrorCodes, StoreError } from '../store/store-error.ts';
import type { TxnOutcome } from '../store/transaction.ts';
import { TxnOperationError } from '../store/transaction.ts';
import type { AuthCommand } from './auth-command.ts';
import type { AuthOutcome } from './auth-state.ts';
import { AuthState } from './auth-state.ts';
import type { ServeConfig } from './config.ts';
import type { Fatal } from './fail-stop.ts';
import type { KeysCommand, TxnCommand } from './keys-command.ts';
import { applyCommand, applyTxnCommand } from './keys-command.ts';
import type { Logger } from './logger.ts';
import { clusterIdFor, formatId, memberIdFor } from './member-id.ts';
import { Outbound } from './outbound.ts';
import { decodePeerMembers } from './peer-members.ts';
import type { TlsMaterial } from './tls.ts';
import { encodeKeysPayload } from './payload-codec.ts';
import type { Payload } from './payload.ts';
import type { MemberInfo } from './member-info.ts';
import { decodeMemberChange, decodeMemberInfo, decodePayload } from './payload.ts';
import { PeerTransport, maxFrameBytesFor } from './peer-transport.ts';
import type { TransportHost } from './peer-transport.ts';
import type { BackupView } from './snapshot-backup.ts';
import type { MemberState, Taken } from './store-image.ts';
import { captureChanges, encodeChanges, restoreBlob, restoreImage, writeBase } from './store-image.ts';

export type { MemberInfo } from './member-info.ts';

/** The membership record kept in the data dir (with this member's own id) and in snapshots. */
interface Membership {
  readonly clusterId: number;
  readonly members: readonly MemberInfo[];
  readonly selfId?: NodeId;
  /** Members removed for good: peers answer them 410 Gone, so that they learn it and stop. */
  readonly removed?: readonly NodeId[];
}

/** A membership request that cannot be done, with etcd's HTTP status and message. */
export class MembershipError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** A write's outcome: the event (or the store's error) and the store index right after it. */
export interface Applied {
  readonly event: StoreEvent;
  readonly etcdIndex: number;
}

/** A transaction's outcome and the store index right after it. */
export interface AppliedTxn {
  readonly outcome: TxnOutcome;
  readonly etcdIndex: number;
}

interface Pending {
  /** With an Applied for a keys command, an AppliedTxn for a transaction, an AuthOutcome for an auth write. */
  readonly resolve: (outcome: Applied | AppliedTxn | AuthOutcome) => void;
  readonly reject: (error: unknown) => void;
  /** The proposal, kept to propose again if a leader change may have lost it. */
  readonly data: Uint8Array;
}

/**
 * How many entries back a request id is remembered. A write proposed again after a leader change
 * is applied once: every member skips an id it applied within this window (a rule that depends
 * only on the log, so all members decide alike).
 */
const DEDUPE_WINDOW = 10_000;

/** The error etcd answers when a request cannot complete in time (no leader, lost quorum). */
export function timeoutError(index: number): StoreError {
  return new StoreError(ErrorCodes.RaftInternal, 'etcdserver: request timed out', index);
}

/** What etcd answers a request in flight when the server stops under it. */
function stoppedError(index: number): StoreError {
  return new StoreError(ErrorCodes.RaftInternal, 'etcdserver: server stopped', index);
}

const encoder = new TextEncoder();
const EXPIRY_SWEEP_MS = 500;

/**
 * One member: Raft, durable storage and the v2 store, driven by the Ready loop (persist, send,
 * apply, advance). Writes are proposed with an id and answered when this member applies them.
 */
export class Member implements TransportHost {
  readonly id: NodeId;
  readonly clusterId: number;
  readonly name: string;
  readonly config: ServeConfig;
  readonly startTime = new Date();
  store = new Store();
  /** Users, roles and whether auth is on: replicated like the store, kept apart from the keys. */
  auth = new AuthState();
  members = new Map<NodeId, MemberInfo>();
  removedIds = new Set<NodeId>();
  private readonly storage: DiskStorage;
  private readonly node: RawNode;
  private readonly log: Logger;
  /** Where this member goes when it cannot go on (see failStop). */
  private readonly fatal: Fatal;
  private failed = false;
  readonly transport: PeerTransport;
  private readonly pending = new Map<string, Pending>();
  /** Request id -> index it was applied at, for the last DEDUPE_WINDOW entries. */
  private appliedIds = new Map<string, number>();
  private readonly reads = new Map<string, (index: number) => void>();
  private appliedWaiters: Array<{ index: number; resolve: () => void }> = [];
  /** Membership changes waiting to be applied, by "<type>:<id>", with how to propose them again. */
  private readonly confWaiters = new Map<string, () => void>();
  private readonly confRetries = new Map<string, () => void>();
  /** Called once when this member learns it was removed from the cluster. */
  onRemoved: (() => void) | undefined;
  private sequence = 0;
  private readonly bootId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;
  /** The prefix of this member's request ids: unique across members and restarts. */
  private idPrefix = '';
  private appliedIndex: number;
  private snapshotIndex: number;
  private membershipDirty = false;
  private wakeUp: (() => void) | undefined;
  private running = true;
  private readonly timers: NodeJS.Timeout[] = [];
  private loopDone: Promise<void> = Promise.resolve();
  private lastLeader: NodeId = 0;
  /** Called when a snapshot replaces the store: open watches end. */
  readonly storeReplacedListeners = new Set<() => void>();
  readonly counters = { proposalsCommitted: 0, proposalsFailed: 0, leaderChanges: 0 };
  fsyncMillis: number[] = [];
  /** A snapshot being saved in the background (at most one at a time). */
  private snapshotting = false;
  private snapshotTask: Promise<void> = Promise.resolve();
  /** States restored from peers' snapshots when they were checked, by data, for installing them. */
  private readonly checkedSnapshots = new WeakMap<Uint8Array, MemberState<Membership>>();
  /** The data dir lost entries this member had acknowledged: it does not vote until caught up. */
  private catchingUp: boolean;

  private constructor(config: ServeConfig, storage: DiskStorage, log: Logger, fatal: Fatal, membership: Membership, id: NodeId, peers: readonly NodeId[], outbound: Outbound, restored: MemberState<Membership> | undefined) {
    this.config = config;
    this.storage = storage;
    this.log = log;
    this.fatal = fatal;
    this.id = id;
    this.name = config.name;
    this.clusterId = membership.clusterId;
    for (const m of membership.members) this.members.set(m.id, m);
    for (const id of membership.removed ?? []) this.removedIds.add(id);
    this.snapshotIndex = storage.snapshot().meta.index;
    this.appliedIndex = this.snapshotIndex;
    if (restored !== undefined) this.adopt(restored);
    else this.store.trackChanges();
    this.node = new RawNode({
      id,
      electionTick: Math.round(config.electionTimeoutMs / config.heartbeatIntervalMs),
      heartbeatTick: 1,
      storage,
      applied: this.snapshotIndex,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      maxCommittedSizePerReady: 64 * 1024 * 1024,
      checkQuorum: true,
      preVote: true,
      random: seededRandom(Number(BigInt(Date.now()) % 0xffffffffn) ^ id),
      peers,
      catchUpTo: storage.catchUpTo,
    });
    this.catchingUp = storage.catchUpTo > 0;
    this.transport = new PeerTransport(this, log, outbound, maxFrameBytesFor(config.maxRequestBytes));
  }

  /**
   * Opens the data dir and joins (or bootstraps, or rejoins) the cluster. `peerTls` secures the
   * requests to peers when their URLs are https; `fatal` is called once if the member cannot go on.
   */
  static async start(config: ServeConfig, log: Logger, peerTls: TlsMaterial | undefined, fatal: Fatal): Promise<Member> {
    const outbound = new Outbound(peerTls, 4);
    const opening = performance.now();
    const storage = await DiskStorage.open(config.dataDir);
    for (const warning of storage.warnings) log.warn(warning);
    try {
      const opened = performance.now();
      const restored = await loadSnapshot(storage);
      if (restored !== undefined) {
        const shape = storage.imageShape;
        log.info('snapshot loaded', { index: storage.snapshot().meta.index, pages: shape.pages, deltas: shape.deltas, openMs: Math.round(opened - opening), loadMs: Math.round(performance.now() - opened) });
      }
      const fresh = storage.lastIndex() === 0 && storage.initialState().hardState.term === 0;
      const stored = storage.membership as Membership | undefined;
      let membership: Membership;
      let peers: NodeId[] = [];
      if (!fresh && stored !== undefined && stored.selfId !== undefined) {
        membership = stored;
      } else if (config.initialClusterState === 'existing') {
        membership = await joinExisting(config, outbound);
      } else {
        const members = [...config.initialCluster].map(([name, peerURLs]) => ({
          id: memberIdFor(peerURLs, config.initialClusterToken),
          name,
          peerURLs,
          clientURLs: name === config.name ? config.advertiseClientUrls : [],
        }));
        const selfId = memberIdFor(config.advertisePeerUrls, config.initialClusterToken);
        membership = { clusterId: clusterIdFor(members.map((m) => m.id), config.initialClusterToken), members, selfId };
        peers = members.map((m) => m.id);
      }
      if (fresh) await storage.persist({ entries: [], membership, sync: true });
      const id = membership.selfId!;
      const self = membership.members.find((m) => m.id === id);
      if (self !== undefined && !fresh && self.name !== '' && self.name !== config.name) {
        throw new StartError(`data dir ${config.dataDir} belongs to member "${self.name}" (id ${formatId(id)}) of cluster ${formatId(membership.clusterId)}, not to "${config.name}"; give this member its own --data-dir`);
      }
      if (self === undefined && !fresh) {
        throw new StartError(`this member (${config.name}, id ${formatId(id)}) was removed from cluster ${formatId(membership.clusterId)}; remove its data dir ${config.dataDir} and add it again to rejoin`);
      }
      checkLostEntries(storage, membership, log);
      const member = new Member(config, storage, log, fatal, membership, id, peers, outbound, restored);
      // A snapshot in kvd 0.1's format is saved again as an image (the form followers are sent).
      if (restored !== undefined && !storage.takesImageChanges) {
        await writeBase(member.store, await storage.beginBase(), () => ({ state: member.state(), index: member.snapshotIndex, confState: storage.snapshot().meta.confState }));
      }
      member.begin();
      log.info('member started', { name: config.name, id: formatId(id), cluster: formatId(member.clusterId), dataDir: config.dataDir, fresh });
      return member;
    } catch (error) {
      outbound.close();
      await storage.close();
      throw error;
    }
  }

  private begin(): void {
    this.timers.push(setInterval(() => this.tick(), this.config.heartbeatIntervalMs));
    this.timers.push(setInterval(() => this.maybeExpire(), EXPIRY_SWEEP_MS));
    this.loopDone = this.readyLoop();
    // Tell the cluster this member's name and client URLs (etcd's "publish").
    void this.publishAttributes();
  }

  // --- TransportHost ---------------------------------------------------------------------------

  peerUrlsOf(id: NodeId): readonly string[] | undefined {
    return this.members.get(id)?.peerURLs;
  }

  receive(messages: readonly Message[]): void {
    // Peer messages are validated before they get here: a core that still throws is broken.
    for (const m of messages) {
      this.droppedByCore('the Raft core failed on a peer message', () => this.node.step(m));
      if (!this.running) return;
    }
  }

  reportUnreachable(id: NodeId): void {
    this.node.reportUnreachable(id);
    this.wake();
  }

  isRemoved(id: NodeId): boolean {
    return this.removedIds.has(id);
  }

  isMember(id: NodeId): boolean {
    return this.members.has(id);
  }

  get dataDir(): string {
    return this.config.dataDir;
  }

  get lastIndex(): number {
    return this.node.raft.log.lastIndex();
  }

  /** Restores a peer's snapshot data (and keeps the result for installing it); rejects if it cannot. */
  async checkSnapshot(data: Uint8Array): Promise<void> {
    this.checkedSnapshots.set(data, await restoreSnapshotData(data));
  }

  /** A peer answered 410 Gone: this member was removed while it could not hear of it. */
  removedByPeer(): void {
    if (!this.running || this.removedIds.has(this.id)) return;
    this.removedIds.add(this.id);
    this.log.warn('a peer says this member was removed from the cluster; it stops serving');
    queueMicrotask(() => this.onRemoved?.());
  }

  snapshotImage(index: number): Promise<Uint8Array> {
    return this.storage.snapshotImage(index);
  }

  reportSnapshot(id: NodeId, succeeded: boolean): void {
    this.node.reportSnapshot(id, succeeded);
    this.wake();
  }

  // --- status ----------------------------------------------------------------------------------

  get leader(): NodeId {
    return this.node.raft.lead;
  }

  get isLeader(): boolean {
    return this.node.raft.role === 'leader';
  }

  get role(): string {
    return this.node.raft.role;
  }

  get term(): number {
    return this.node.raft.term;
  }

  get raftIndex(): number {
    return this.appliedIndex;
  }

  get commitIndex(): number {
    return this.node.raft.log.committed;
  }

  get requestTimeoutMs(): number {
    return 5000 + 2 * this.config.electionTimeoutMs;
  }

  get pendingProposals(): number {
    return this.pending.size;
  }

  // --- requests --------------------------------------------------------------------------------

  /** Proposes a keys command; resolves when this member has applied it. */
  proposeKeys(command: KeysCommand): Promise<Applied> {
    const id = this.nextProposalId();
    return this.proposeWithId<Applied>(id, encodeKeysPayload(id, command));
  }

  /** Proposes a transaction; resolves when this member has applied it, rejects with its failed operation. */
  proposeTxn(command: TxnCommand): Promise<AppliedTxn> {
    const id = this.nextProposalId();
    return this.proposeWithId<AppliedTxn>(id, encoder.encode(JSON.stringify({ kind: 'txn', id, command } satisfies Payload)));
  }

  /** Proposes a change of users, roles or the auth switch; resolves with its outcome once applied here. */
  proposeAuth(command: AuthCommand): Promise<AuthOutcome> {
    const id = this.nextProposalId();
    return this.proposeWithId<AuthOutcome>(id, encoder.encode(JSON.stringify({ kind: 'auth', id, command } satisfies Payload)));
  }

  private nextProposalId(): string {
    // Unique across restarts too: a repeated id would be skipped as a duplicate.
    if (this.idPrefix === '') this.idPrefix = `${formatId(this.id)}-${this.bootId}-`;
    return `${this.idPrefix}${++this.sequence}`;
  }

  /** Proposes `data`, known by `id` when applied; resolves with what applying it gave. */
  private proposeWithId<T extends Applied | AppliedTxn | AuthOutcome>(id: string, data: Uint8Array): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        this.counters.proposalsFailed++;
        reject(timeoutError(this.store.index));
      }, this.requestTimeoutMs);
      this.pending.set(id, {
        data,
        resolve: (outcome) => {
          clearTimeout(timer);
          // The apply switch resolves each id with the kind its payload gives.
          resolve(outcome as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.proposeUntilAccepted(data, Date.now() + this.requestTimeoutMs);
    });
  }

  /** Proposes, retrying while there is no leader to take it (until the deadline). */
  private proposeUntilAccepted(data: Uint8Array, deadline: number): void {
    if (!this.running) return;
    if (this.droppedByCore('the Raft core failed on a proposal', () => this.node.propose(data)) && Date.now() < deadline) {
      setTimeout(() => this.proposeUntilAccepted(data, deadline), 50);
    }
  }

  /**
   * Calls into the Raft core: true when it dropped the call (a proposal or read with no leader,
   * during a transfer or a membership change), which the caller may try again. Any other error is
   * a broken invariant: the member stops (fail-stop), and `running` is false on return.
   */
  private droppedByCore(what: string, call: () => void): boolean {
    try {
      call();
      this.wake();
      return false;
    } catch (error) {
      if (error instanceof ProposalDroppedError) return true;
      this.failStop(what, error);
      return false;
    }
  }

  /** Resolves once this member's store reflects every write acknowledged before the call (ReadIndex). */
  linearizableRead(timeoutMs = this.requestTimeoutMs): Promise<void> {
    const context = `${formatId(this.id)}-r${++this.sequence}`;
    const deadline = Date.now() + timeoutMs;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(context);
        reject(timeoutError(this.store.index));
      }, timeoutMs);
      this.reads.set(context, (index) => {
        clearTimeout(timer);
        this.reads.delete(context);
        this.waitApplied(index).then(resolve, reject);
      });
      const ask = (): void => {
        if (!this.reads.has(context) || !this.running) return;
        if (this.droppedByCore('the Raft core failed on a read', () => this.node.readIndex(context)) && Date.now() < deadline) setTimeout(ask, 50);
      };
      ask();
    });
  }

  private waitApplied(index: number): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  /** Asks the leader to hand leadership to `to`; resolves when someone else leads or after the timeout. */
  async transferLeadership(to: NodeId, timeoutMs: number): Promise<boolean> {
    this.node.transferLeadership(to);
    this.wake();
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.leader !== this.id && this.leader !== 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  }

  /** The follower whose log is most complete (the best transfer target), if any. */
  bestTransferTarget(): NodeId | undefined {
    let best: { id: NodeId; match: number } | undefined;
    for (const [id, progress] of this.node.status().progress) {
      if (id === this.id || this.node.status().confState.learners.includes(id)) continue;
      if (best === undefined || progress.match > best.match) best = { id, match: progress.match };
    }
    return best?.id;
  }

  // --- the loop --------------------------------------------------------------------------------

  private tick(): void {
    this.droppedByCore('the Raft core failed on a tick', () => this.node.tick());
    if (this.catchingUp && this.node.raft.caughtUp()) {
      this.catchingUp = false;
      this.log.info('caught up on the entries the data dir lost: this member votes again', { commit: this.node.status().commit });
    }
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private async readyLoop(): Promise<void> {
    while (this.running) {
      if (!this.node.hasReady()) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        continue;
      }
      try {
        const rd = this.node.ready();
        await this.handleReady(rd);
        this.node.advance(rd);
        // A member alone in its cluster need not wait an election timeout to lead.
        if (this.leader === 0 && this.node.raft.tracker.isSingleVoter(this.id) && this.node.raft.role === 'follower') this.node.campaign();
      } catch (error) {
        this.failStop('cannot persist or apply', error);
        return;
      }
    }
  }

  /**
   * Fail-stop: this member cannot go on (a write did not persist, an entry did not apply, the
   * core broke an invariant). Nothing more is applied or answered; requests in flight fail (none
   * is answered success for a write that did not persist), and `fatal` stops the process so that a
   * supervisor restarts it. The data dir holds everything acknowledged; a restart rejoins.
   */
  private failStop(what: string, cause: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.running = false;
    for (const timer of this.timers) clearInterval(timer);
    this.wake();
    this.failAll(stoppedError(this.store.index));
    this.transport.close();
    this.fatal(what, cause);
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState !== undefined && rd.softState.lead !== this.lastLeader) {
      this.lastLeader = rd.softState.lead;
      this.counters.leaderChanges++;
      this.log.info(rd.softState.lead === 0 ? 'no leader' : 'leader elected', { leader: formatId(rd.softState.lead), term: this.term, role: rd.softState.role });
      // A proposal forwarded to the old leader may be lost: propose the waiting ones again
      // (applying skips any that did make it).
      if (rd.softState.lead !== 0) {
        for (const waiter of this.pending.values()) this.proposeUntilAccepted(waiter.data, Date.now() + this.requestTimeoutMs);
        // Membership changes are idempotent: proposing one again is harmless.
        for (const retry of this.confRetries.values()) retry();
      }
    }
    // The leader's appends go out while its own write is still being synced.
    this.transport.send(rd.messages);
    // A snapshot from the leader replaces the log: never while one of our own is being saved.
    if (rd.snapshot !== undefined) await this.snapshotTask;
    const started = performance.now();
    const persisted = this.storage.persist({
      entries: rd.entries,
      ...(rd.hardState !== undefined ? { hardState: rd.hardState } : {}),
      ...(rd.snapshot !== undefined ? { snapshot: rd.snapshot } : {}),
      sync: rd.mustSync,
    });
    if (rd.snapshot === undefined) {
      // Committed entries are durable on a quorum already: they are applied (and their clients
      // answered) while this member's own new entries are still being synced.
      try {
        this.applyCommitted(rd);
      } finally {
        await persisted;
      }
    } else {
      await persisted;
      const state = this.checkedSnapshots.get(rd.snapshot.data) ?? (await restoreSnapshotData(rd.snapshot.data));
      this.checkedSnapshots.delete(rd.snapshot.data);
      this.adopt(state);
      this.appliedIndex = rd.snapshot.meta.index;
      this.snapshotIndex = rd.snapshot.meta.index;
      this.log.info('installed a snapshot from the leader', { index: rd.snapshot.meta.index });
      this.applyCommitted(rd);
    }
    if (rd.mustSync) this.recordFsync(performance.now() - started);
    this.transport.send(rd.messagesAfterSync);
    if (this.membershipDirty) {
      this.membershipDirty = false;
      await this.storage.persist({ entries: [], membership: this.membership(), sync: false });
    }
    this.maybeSnapshot();
  }

  private applyCommitted(rd: Ready): void {
    for (const entry of rd.committedEntries) this.apply(entry);
    for (const state of rd.readStates) this.reads.get(state.context)?.(state.index);
    this.releaseAppliedWaiters();
  }

  private recordFsync(ms: number): void {
    this.fsyncMillis.push(ms);
    if (this.fsyncMillis.length > 4096) this.fsyncMillis = this.fsyncMillis.slice(-2048);
  }

  private apply(entry: Entry): void {
    if (entry.index <= this.appliedIndex) return;
    this.appliedIndex = entry.index;
    if (entry.type === 'confChange') {
      this.applyConfChange(entry);
      return;
    }
    if (entry.data.length === 0) return;
    const payload = this.decodeOrSkip(entry, decodePayload);
    if (payload === undefined) return;
    switch (payload.kind) {
      case 'keys':
        return this.applyOnce(payload.id, entry.index, () => ({ event: applyCommand(this.store, payload.command), etcdIndex: this.store.index }), StoreError);
      case 'txn':
        return this.applyOnce(payload.id, entry.index, () => ({ outcome: applyTxnCommand(this.store, payload.command), etcdIndex: this.store.index }), TxnOperationError);
      case 'expire':
        this.store.deleteExpiredKeys(payload.time);
        return;
      case 'auth':
        // Applied on every member; only the proposing one has a waiter to answer.
        return this.applyOnce(payload.id, entry.index, () => this.auth.apply(payload.command), undefined);
      case 'updatePeers': {
        this.store.recordHiddenWrite(`/0/members/${formatId(payload.member)}/raftAttributes`);
        const known = this.members.get(payload.member);
        if (known !== undefined) {
          this.members.set(payload.member, { ...known, peerURLs: payload.peerURLs });
          this.membershipDirty = true;
        }
        this.confWaiters.get(`update:${payload.member}`)?.();
        return;
      }
      case 'attributes': {
        const known = this.members.get(payload.member);
        if (known !== undefined) {
          this.members.set(payload.member, { ...known, name: payload.name, clientURLs: payload.clientURLs });
          this.membershipDirty = true;
        }
        return;
      }
    }
  }

  /**
   * Applies the entry of request `id` once (an id applied within the dedupe window is skipped, on
   * every member alike) and answers its waiter, if this member proposed it. An error of the
   * `refused` kind is the request's answer; any other means apply is broken: the waiter gets
   * "server stopped" and the error goes on up (fail-stop).
   */
  private applyOnce<T extends Applied | AppliedTxn | AuthOutcome>(id: string, index: number, apply: () => T, refused: (abstract new (...args: never[]) => Error) | undefined): void {
    if (this.appliedIds.has(id)) return;
    this.rememberId(id, index);
    const waiter = this.pending.get(id);
    this.pending.delete(id);
    let outcome: T;
    try {
      outcome = apply();
    } catch (error) {
      const answer = refused !== undefined && error instanceof refused;
      waiter?.reject(answer ? error : stoppedError(this.store.index));
      if (!answer) throw error;
      return;
    }
    this.counters.proposalsCommitted++;
    waiter?.resolve(outcome);
  }

  private rememberId(id: string, index: number): void {
    this.appliedIds.set(id, index);
    // Prune in batches: ids are in index order, so the oldest come first.
    if (this.appliedIds.size <= DEDUPE_WINDOW * 1.2) return;
    for (const [old, at] of this.appliedIds) {
      if (at > index - DEDUPE_WINDOW) break;
      this.appliedIds.delete(old);
    }
  }

  /**
   * A malformed entry is refused from peers, so one in the log is damage: every member skips it
   * alike (the decision depends only on the entry) rather than stop at it on every restart.
   */
  private decodeOrSkip<T>(entry: Entry, decode: (data: Uint8Array) => T): T | undefined {
    try {
      return decode(entry.data);
    } catch (error) {
      this.log.error('skipped a malformed log entry', { index: entry.index, type: entry.type, error: error instanceof Error ? error.message : String(error) });
      return undefined;
    }
  }

  private applyConfChange(entry: Entry): void {
    const decoded = this.decodeOrSkip(entry, decodeMemberChange);
    if (decoded === undefined) return;
    const { change, member } = decoded;
    // A removed id never comes back (a late duplicate of its addition is ignored), as in etcd.
    if (change.type !== 'removeNode' && this.removedIds.has(change.nodeId)) return;
    const promotion = change.type === 'addNode' && this.members.get(change.nodeId)?.isLearner === true;
    this.node.applyConfChange(change);
    if (change.type === 'removeNode') {
      this.members.delete(change.nodeId);
      this.removedIds.add(change.nodeId);
    } else if (member !== undefined) {
      this.members.set(change.nodeId, member);
    } else {
      const known = this.members.get(change.nodeId);
      if (known !== undefined) this.members.set(change.nodeId, { ...known, isLearner: change.type === 'addLearner' });
    }
    this.membershipDirty = true;
    recordMembershipWrites(this.store, promotion ? 'promote' : change.type, change.nodeId, entry.index);
    const key = `${change.type}:${change.nodeId}`;
    this.log.info('membership changed', { change: change.type, member: formatId(change.nodeId), index: entry.index, answering: this.confWaiters.has(key) });
    this.confWaiters.get(key)?.();
    if (change.type === 'removeNode' && change.nodeId === this.id) {
      this.log.warn('this member was removed from the cluster; it stops serving');
      queueMicrotask(() => this.onRemoved?.());
    }
  }

  // --- membership changes ----------------------------------------------------------------------

  /** Adds a member (a learner when asked); resolves with it once the change is applied here. */
  async addMember(peerURLs: readonly string[], isLearner: boolean): Promise<MemberInfo> {
    if (!isLearner && !this.readyToAddVoter()) throw this.notEnoughStarted('add a voting member', { peerURLs: peerURLs.join(',') });
    const clash = [...this.members.values()].find((m) => m.peerURLs.some((u) => peerURLs.includes(u)));
    if (clash !== undefined) throw new MembershipError(409, 'membership: peerURL exists');
    const id = memberIdFor(peerURLs, `${this.config.initialClusterToken}:${Date.now()}`);
    const member: MemberInfo = { id, name: '', peerURLs, clientURLs: [], ...(isLearner ? { isLearner: true } : {}) };
    const type = isLearner ? 'addLearner' : 'addNode';
    await this.changeMembership(`${type}:${id}`, () => this.node.proposeConfChange({ type, nodeId: id, context: JSON.stringify(member) }));
    return member;
  }

  async removeMember(id: NodeId): Promise<void> {
    if (!this.members.has(id)) throw new MembershipError(404, `No such member: ${formatId(id)}`);
    if (!this.readyToRemove(id)) throw this.notEnoughStarted('remove a voting member', { member: formatId(id) });
    await this.changeMembership(`removeNode:${id}`, () => this.node.proposeConfChange({ type: 'removeNode', nodeId: id }));
  }

  /**
   * etcd's strict reconfiguration check (its default --strict-reconfig-check): a new voter is
   * refused unless the members that have started (published their name, as the attributes entry
   * does) would still be a quorum of the voters, the new one counted. Growing a one-member cluster
   * to two is allowed, as etcd allows it to restore a cluster from one member's data.
   */
  private readyToAddVoter(): boolean {
    const voters = [...this.members.values()].filter((m) => m.isLearner !== true);
    const started = voters.filter((m) => m.name !== '').length;
    const after = voters.length + 1;
    if (started === 1 && after === 2) return true;
    return started >= Math.floor(after / 2) + 1;
  }

  /** Removing a voter is refused unless the started members among the voters left are a quorum of them; a learner may always go. */
  private readyToRemove(id: NodeId): boolean {
    if (this.members.get(id)?.isLearner === true) return true;
    const left = [...this.members.values()].filter((m) => m.isLearner !== true && m.id !== id);
    return left.filter((m) => m.name !== '').length >= Math.floor(left.length / 2) + 1;
  }

  /** etcd's ErrNotEnoughStartedMembers: its v2 API answers it as a bare 500, and says why only in its log. */
  private notEnoughStarted(action: string, fields: Record<string, string>): MembershipError {
    this.log.warn(`refused to ${action}: etcdserver: re-configuration failed due to not enough started members`, fields);
    return new MembershipError(500, 'Internal Server Error');
  }

  async updateMember(id: NodeId, peerURLs: readonly string[]): Promise<void> {
    if (!this.members.has(id)) throw new MembershipError(404, `No such member: ${formatId(id)}`);
    const clash = [...this.members.values()].find((m) => m.id !== id && m.peerURLs.some((u) => peerURLs.includes(u)));
    if (clash !== undefined) throw new MembershipError(409, 'membership: peerURL exists');
    const data = encoder.encode(JSON.stringify({ kind: 'updatePeers', member: id, peerURLs } satisfies Payload));
    await this.changeMembership(`update:${id}`, () => this.node.propose(data));
  }

  /**
   * Promotes a learner to a voter. Only the leader knows how far behind a learner is: elsewhere
   * this is refused, naming the leader. A learner is ready once it has 90% of the committed log.
   */
  async promoteMember(id: NodeId): Promise<MemberInfo> {
    const member = this.members.get(id);
    if (member === undefined) throw new MembershipError(404, `No such member: ${formatId(id)}`);
    if (member.isLearner !== true) throw new MembershipError(400, `membership: member ${formatId(id)} is not a learner`);
    if (!this.isLeader) {
      const leader = this.members.get(this.leader);
      throw new MembershipError(412, `membership: only the leader can promote a learner; ask ${leader?.clientURLs[0] ?? 'the leader (none now)'}`);
    }
    const match = this.node.status().progress.get(id)?.match ?? 0;
    if (match < this.commitIndex * 0.9) {
      throw new MembershipError(412, `membership: can only promote a learner member which is in sync with leader (it has ${match} of ${this.commitIndex} entries)`);
    }
    await this.changeMembership(`addNode:${id}`, () => this.node.proposeConfChange({ type: 'addNode', nodeId: id }));
    return this.members.get(id)!;
  }

  /**
   * Proposes a membership change and waits until this member has applied it; while there is no
   * leader it tries again, until the request timeout.
   */
  private changeMembership(key: string, propose: () => void): Promise<void> {
    const deadline = Date.now() + this.requestTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const fail = (error: MembershipError): void => {
        clearTimeout(timer);
        this.confWaiters.delete(key);
        this.confRetries.delete(key);
        reject(error);
      };
      const timer = setTimeout(() => fail(new MembershipError(500, 'etcdserver: request timed out')), this.requestTimeoutMs);
      this.confWaiters.set(key, () => {
        clearTimeout(timer);
        this.confWaiters.delete(key);
        this.confRetries.delete(key);
        resolve();
      });
      const attempt = (): void => {
        if (!this.confWaiters.has(key) || !this.running) return;
        const dropped = this.droppedByCore('the Raft core failed on a membership change', propose);
        if (!this.running || Date.now() >= deadline) return;
        // A new leader refuses changes until it has applied its predecessors' entries: wait.
        if (dropped) setTimeout(attempt, 50);
        // A leader turns a forwarded change into an empty entry while an earlier change (or its
        // own election) is unapplied, without telling the sender: propose again until applied.
        else setTimeout(attempt, Math.max(500, this.config.electionTimeoutMs)).unref();
      };
      this.confRetries.set(key, attempt);
      attempt();
    });
  }

  /** Hands leadership to `id` (kvd's extension); only the leader can. */
  async handOverLeadership(id: NodeId): Promise<void> {
    if (!this.isLeader) {
      const leader = this.members.get(this.leader);
      throw new MembershipError(412, `membership: only the leader can hand over leadership; ask ${leader?.clientURLs[0] ?? 'the leader (none now)'}`);
    }
    if (id === this.id) return;
    if (this.members.get(id)?.isLearner === true) throw new MembershipError(400, `membership: member ${formatId(id)} is a learner and cannot lead`);
    const moved = await this.transferLeadership(id, this.config.electionTimeoutMs * 2);
    if (!moved || this.leader !== id) throw new MembershipError(500, `membership: leadership did not move to ${formatId(id)} in time`);
  }

  /** The members as peers see them (GET /members on the peer URL): how a joining member learns its id. */
  memberList(): Iterable<MemberInfo> {
    return this.members.values();
  }

  private releaseAppliedWaiters(): void {
    if (this.appliedWaiters.length === 0) return;
    const ready = this.appliedWaiters.filter((w) => w.index <= this.appliedIndex);
    this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > this.appliedIndex);
    for (const waiter of ready) waiter.resolve();
  }

  private membership(): Membership {
    return { clusterId: this.clusterId, members: [...this.members.values()], selfId: this.id, removed: [...this.removedIds] };
  }

  // --- TTL, attributes, snapshots --------------------------------------------------------------

  /** The leader proposes its clock when a key may have expired; every member expires on apply. */
  private maybeExpire(): void {
    if (!this.isLeader) return;
    const next = this.store.nextExpireTime();
    const now = Date.now();
    if (next === undefined || next > now) return;
    this.droppedByCore('the Raft core failed on an expiry', () => this.node.propose(encoder.encode(JSON.stringify({ kind: 'expire', time: now } satisfies Payload))));
  }

  private async publishAttributes(): Promise<void> {
    const payload: Payload = { kind: 'attributes', member: this.id, name: this.name, clientURLs: this.config.advertiseClientUrls };
    const data = encoder.encode(JSON.stringify(payload));
    while (this.running) {
      const mine = this.members.get(this.id);
      if (mine !== undefined && mine.name === this.name && mine.clientURLs.join(',') === this.config.advertiseClientUrls.join(',') && this.appliedIndex > 0 && this.leader !== 0) {
        // etcd's "published" line: the cluster lists this member's client URLs from now on.
        this.log.info('published this member\'s name and client URLs to the cluster', { name: this.name, clientURLs: this.config.advertiseClientUrls.join(',') });
        return;
      }
      this.proposeUntilAccepted(data, Date.now() + 1000);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  /**
   * Every --snapshot-count applied entries, a snapshot: a delta of what the store's writes changed
   * since the last one, taken now (at this index); or a new base, written as the tree is walked
   * (the first, after a failed one, or when the deltas outgrow the base), at the index where the
   * walk ends. It is saved, and the log compacted, in the background, so that requests keep
   * flowing meanwhile.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting || this.appliedIndex - this.snapshotIndex < this.config.snapshotCount) return;
    const shape = this.storage.imageShape;
    const newBase = !this.storage.takesImageChanges || shape.deltaBytes > shape.baseBytes;
    const take = (): Taken<Membership> => ({ state: this.state(), index: this.appliedIndex, confState: this.node.status().confState });
    this.snapshotting = true;
    this.snapshotTask = (async () => {
      const started = performance.now();
      let index = this.appliedIndex;
      try {
        let what: Record<string, number>;
        if (newBase) {
          const written = await writeBase(this.store, await this.storage.beginBase(), take);
          index = written.index;
          what = { base: written.nodes };
        } else {
          const taken = take();
          index = taken.index;
          const captured = captureChanges(taken.state);
          await this.storage.saveSnapshot(index, taken.confState, await encodeChanges(captured));
          what = { written: captured.nodes.length, removed: captured.removed.length };
        }
        this.snapshotIndex = index;
        const compactTo = index - this.config.snapshotCatchupEntries;
        if (compactTo > this.storage.firstIndex()) await this.storage.compact(compactTo);
        this.log.info('snapshot saved', { index, ...what, ms: Math.round(performance.now() - started), firstIndex: this.storage.firstIndex() });
      } catch (error) {
        // The storage refuses every write after a failed one, and the store's changes taken for
        // this snapshot are gone from its record: the member cannot go on.
        this.failStop(`cannot save the snapshot at index ${index}`, error);
      } finally {
        this.snapshotting = false;
      }
    })();
  }

  /**
   * The whole state as applied now, for a backup (GET /v2/kvd/snapshot): a walk of the store
   * that keeps showing this moment while writes go on, and what goes with it, taken in one turn.
   */
  backupView(): BackupView {
    const store = this.store;
    return { read: store.snapshotRead(), store: storeHeader(store), keys: store.countKeys(), raftIndex: this.appliedIndex, term: this.term, clusterId: this.clusterId, name: this.name, membership: this.membership(), auth: this.auth.toImage() };
  }

  /** What a snapshot holds: the membership, the recently applied request ids, the store. */
  private state(): MemberState<Membership> {
    return { membership: this.membership(), appliedIds: this.appliedIds, store: this.store, auth: this.auth };
  }

  /** Takes over a state loaded from a snapshot; open watches end. */
  private adopt(state: MemberState<Membership>): void {
    this.members = new Map(state.membership.members.map((m) => [m.id, m]));
    this.removedIds = new Set(state.membership.removed ?? []);
    this.appliedIds = state.appliedIds;
    this.store = state.store;
    this.auth = state.auth;
    this.store.trackChanges();
    for (const listener of this.storeReplacedListeners) listener();
  }

  // --- shutdown --------------------------------------------------------------------------------

  private failAll(error: unknown): void {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  /** Stops the loop and timers, waits for in-flight proposals (bounded), closes the storage. */
  async stop(): Promise<void> {
    const until = Date.now() + 2000;
    while (this.pending.size > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    this.running = false;
    for (const timer of this.timers) clearInterval(timer);
    this.wake();
    await this.loopDone;
    await this.snapshotTask;
    this.failAll(timeoutError(this.store.index));
    this.transport.close();
    await this.storage.close();
  }
}

/** A member that cannot start with what it was given. */
export class StartError extends Error {}

/** The state in a snapshot's data (from a leader); throws if it does not restore. */
async function restoreSnapshotData(data: Uint8Array): Promise<MemberState<Membership>> {
  const image = decodeImage(data);
  const state = await restoreImage<Membership>(image.head, [image.records]);
  const membership = state.membership as Partial<Membership> | null;
  if (typeof membership !== 'object' || membership === null || !Array.isArray(membership.members) || (membership.removed !== undefined && !Array.isArray(membership.removed))) {
    throw new RangeError('snapshot: the membership is malformed');
  }
  for (const member of membership.members) decodeMemberInfo(member);
  for (const id of membership.removed ?? []) if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError('snapshot: the membership is malformed');
  return state;
}

/** The state in the data dir's snapshot, if it has one. */
async function loadSnapshot(storage: DiskStorage): Promise<MemberState<Membership> | undefined> {
  const snapshot = await storage.loadSnapshot();
  try {
    if (snapshot.kind === 'image') return await restoreImage<Membership>(snapshot.head, snapshot.records);
    if (snapshot.kind === 'blob') return restoreBlob<Membership>(snapshot.data);
    return undefined;
  } catch (error) {
    if (error instanceof DataDirError) throw error;
    throw new DataDirError(storage.dir, `its snapshot cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * A data dir that lost entries this member had acknowledged (its hard state commits past them):
 * a single voter cannot get them back from anyone and refuses to start; in a cluster the member
 * starts, and votes only once a leader has caught it up (RaftConfig.catchUpTo).
 */
function checkLostEntries(storage: DiskStorage, membership: Membership, log: Logger): void {
  if (storage.catchUpTo === 0) return;
  const voters = membership.members.filter((m) => m.isLearner !== true).length;
  const lost = `its hard state commits index ${storage.catchUpTo}, but it holds entries only up to ${storage.lastIndex()}: entries this member acknowledged are lost`;
  if (voters <= 1) throw new DataDirError(storage.dir, `${lost}, and a single member cannot get them back from anyone: restore the data dir from a backup`);
  log.warn('data dir lost entries this member acknowledged: it will not vote or campaign until the leader has caught it up', { dataDir: storage.dir, committed: storage.catchUpTo, lastIndex: storage.lastIndex() });
}

/**
 * The store indexes a membership change takes, as in etcd, whose membership lives in its v2 store:
 * so that a fresh single member's first write gets index 4, as etcd's does (member added, its
 * attributes published, cluster version set). An addition also stands for the member's first
 * publication of its name and client URLs, which etcd writes when the member starts: counted here,
 * at a point of the log every member agrees on, not when kvd's attributes entry comes (a member
 * proposes one again on a restart, or not, as timing has it). The first entry of a new cluster's
 * log stands for the cluster version too, which etcd sets once its first leader is up. A promotion
 * rewrites the member; a removal deletes it and records it as removed.
 */
function recordMembershipWrites(store: Store, type: ConfChangeType | 'promote', id: NodeId, entryIndex: number): void {
  const member = `/0/members/${formatId(id)}`;
  if (type === 'removeNode') {
    store.recordHiddenWrite(member);
    store.recordHiddenWrite(`/0/removed_members/${formatId(id)}`);
    return;
  }
  store.recordHiddenWrite(`${member}/raftAttributes`);
  if (type === 'promote') return;
  store.recordHiddenWrite(`${member}/attributes`);
  if (entryIndex === 1) store.recordHiddenWrite('/0/version');
}

/**
 * --initial-cluster-state existing: ask the members in --initial-cluster for the membership;
 * this member must have been added (kvctl member add) under one of its peer URLs.
 */
async function joinExisting(config: ServeConfig, outbound: Outbound): Promise<Membership> {
  const failures: string[] = [];
  for (const [name, peerURLs] of config.initialCluster) {
    if (name === config.name) continue;
    for (const url of peerURLs) {
      try {
        const answer = await outbound.getJsonAnswer(new URL('/members', url), 3000);
        const record = decodePeerMembers(answer.body, answer.headers);
        const self = record.members.find((m) => m.peerURLs.some((u) => config.advertisePeerUrls.includes(u)));
        if (self === undefined) {
          throw new StartError(`cluster ${formatId(record.clusterId)} has no member with peer URL ${config.advertisePeerUrls.join(',')}: add it first (kvctl member add ${config.name} ${config.advertisePeerUrls.join(',')})`);
        }
        return { clusterId: record.clusterId, members: record.members, selfId: self.id };
      } catch (error) {
        if (error instanceof StartError) throw error;
        failures.push(`${url}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  throw new StartError(`cannot join the existing cluster: no member in --initial-cluster answered (${failures.join('; ') || 'none listed besides this member'})`);
}
