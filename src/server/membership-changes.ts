import type { ConfChange, NodeId } from '../raft/types.ts';
import type { BasicStatus, Status } from '../raft/raw-node.ts';
import type { Logger } from './logger.ts';
import type { Clock, Timers } from './member-env.ts';
import { formatId, memberIdFor } from './member-id.ts';
import type { MemberInfo } from './member-info.ts';
import type { Payload } from './payload.ts';
import { RETRY_MS } from './proposals.ts';

/** A membership request that cannot be done, with etcd's HTTP status and message. */
export class MembershipError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface MembershipDeps {
  readonly selfId: NodeId;
  readonly clusterToken: string;
  readonly electionTimeoutMs: number;
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly log: Logger;
  readonly members: () => ReadonlyMap<NodeId, MemberInfo>;
  readonly basicStatus: () => BasicStatus;
  readonly status: () => Status;
  readonly running: () => boolean;
  /** Proposals to the core: false when dropped (try again). */
  readonly proposeConfChange: (change: ConfChange) => boolean;
  readonly propose: (data: Uint8Array) => boolean;
  readonly transferLeadership: (to: NodeId) => void;
}

const encoder = new TextEncoder();

/**
 * Membership changes as etcd's v2 members API makes them: add (a voter or a learner), remove,
 * update peer URLs, promote a learner, and kvd's hand-over of leadership. Each is proposed and
 * answered once this member has applied it; etcd's strict reconfiguration checks come first.
 */
export class MembershipChanges {
  private readonly deps: MembershipDeps;
  /** Changes waiting to be applied, by "<type>:<id>", with how to propose them again. */
  private readonly waiters = new Map<string, () => void>();
  private readonly retries = new Map<string, () => void>();

  constructor(deps: MembershipDeps) {
    this.deps = deps;
  }

  /** Adds a member (a learner when asked); resolves with it once the change is applied here. */
  async add(peerURLs: readonly string[], isLearner: boolean): Promise<MemberInfo> {
    if (!isLearner && !this.readyToAddVoter()) throw this.notEnoughStarted('add a voting member', { peerURLs: peerURLs.join(',') });
    this.refuseClash(peerURLs, 0);
    const id = memberIdFor(peerURLs, `${this.deps.clusterToken}:${this.deps.clock.now()}`);
    const member: MemberInfo = { id, name: '', peerURLs, clientURLs: [], ...(isLearner ? { isLearner: true } : {}) };
    const type = isLearner ? 'addLearner' : 'addNode';
    await this.change(`${type}:${id}`, () => this.deps.proposeConfChange({ type, nodeId: id, context: JSON.stringify(member) }));
    return member;
  }

  async remove(id: NodeId): Promise<void> {
    this.known(id);
    if (!this.readyToRemove(id)) throw this.notEnoughStarted('remove a voting member', { member: formatId(id) });
    await this.change(`removeNode:${id}`, () => this.deps.proposeConfChange({ type: 'removeNode', nodeId: id }));
  }

  async update(id: NodeId, peerURLs: readonly string[]): Promise<void> {
    this.known(id);
    this.refuseClash(peerURLs, id);
    const data = encoder.encode(JSON.stringify({ kind: 'updatePeers', member: id, peerURLs } satisfies Payload));
    await this.change(`update:${id}`, () => this.deps.propose(data));
  }

  /**
   * Promotes a learner to a voter. Only the leader knows how far behind a learner is: elsewhere
   * this is refused, naming the leader. A learner is ready once it has 90% of the committed log.
   */
  async promote(id: NodeId): Promise<MemberInfo> {
    const member = this.known(id);
    if (member.isLearner !== true) throw new MembershipError(400, `membership: member ${formatId(id)} is not a learner`);
    this.refuseUnlessLeader('promote a learner');
    const status = this.deps.status();
    const match = status.progress.get(id)?.match ?? 0;
    if (match < status.commit * 0.9) {
      throw new MembershipError(412, `membership: can only promote a learner member which is in sync with leader (it has ${match} of ${status.commit} entries)`);
    }
    await this.change(`addNode:${id}`, () => this.deps.proposeConfChange({ type: 'addNode', nodeId: id }));
    return this.deps.members().get(id)!;
  }

  /** Hands leadership to `id` (kvd's extension); only the leader can. */
  async handOver(id: NodeId): Promise<void> {
    this.refuseUnlessLeader('hand over leadership');
    if (id === this.deps.selfId) return;
    if (this.deps.members().get(id)?.isLearner === true) throw new MembershipError(400, `membership: member ${formatId(id)} is a learner and cannot lead`);
    const moved = await this.transferLeadership(id, this.deps.electionTimeoutMs * 2);
    if (!moved || this.deps.basicStatus().lead !== id) throw new MembershipError(500, `membership: leadership did not move to ${formatId(id)} in time`);
  }

  /** Asks the core to hand leadership to `to`; resolves when someone else leads, or false after the timeout. */
  async transferLeadership(to: NodeId, timeoutMs: number): Promise<boolean> {
    const { clock, timers, selfId } = this.deps;
    this.deps.transferLeadership(to);
    const until = clock.monotonic() + timeoutMs;
    while (clock.monotonic() < until) {
      const lead = this.deps.basicStatus().lead;
      if (lead !== selfId && lead !== 0) return true;
      await new Promise((resolve) => timers.after(20, () => resolve(undefined)));
    }
    return false;
  }

  /** The follower whose log is most complete (the best transfer target), if any. */
  bestTransferTarget(): NodeId | undefined {
    const status = this.deps.status();
    let best: { id: NodeId; match: number } | undefined;
    for (const [id, progress] of status.progress) {
      if (id === this.deps.selfId || status.confState.learners.includes(id)) continue;
      if (best === undefined || progress.match > best.match) best = { id, match: progress.match };
    }
    return best?.id;
  }

  /** A change was applied (the state machine's "<type>:<id>"): its request is answered. */
  applied(key: string): void {
    this.waiters.get(key)?.();
  }

  /** A new leader: changes forwarded to the old one may be lost; they are idempotent, so propose them again. */
  proposeAgain(): void {
    for (const retry of this.retries.values()) retry();
  }

  /**
   * Proposes a membership change and waits until this member has applied it; while there is no
   * leader it tries again, until the request timeout.
   */
  private change(key: string, propose: () => boolean): Promise<void> {
    const { clock, timers, timeoutMs } = this.deps;
    const deadline = clock.monotonic() + timeoutMs;
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: MembershipError): void => {
        cancel();
        this.waiters.delete(key);
        this.retries.delete(key);
        if (error === undefined) resolve();
        else reject(error);
      };
      const cancel = timers.after(timeoutMs, () => settle(new MembershipError(500, 'etcdserver: request timed out')));
      this.waiters.set(key, () => settle());
      const attempt = (): void => {
        if (!this.waiters.has(key) || !this.deps.running()) return;
        const accepted = propose();
        if (!this.deps.running() || clock.monotonic() >= deadline) return;
        // A new leader refuses changes until it has applied its predecessors' entries: wait. A
        // leader turns a forwarded change into an empty entry while an earlier change (or its
        // own election) is unapplied, without telling the sender: propose again until applied.
        timers.after(accepted ? Math.max(500, this.deps.electionTimeoutMs) : RETRY_MS, attempt);
      };
      this.retries.set(key, attempt);
      attempt();
    });
  }

  private known(id: NodeId): MemberInfo {
    const member = this.deps.members().get(id);
    if (member === undefined) throw new MembershipError(404, `No such member: ${formatId(id)}`);
    return member;
  }

  private refuseClash(peerURLs: readonly string[], except: NodeId): void {
    const clash = [...this.deps.members().values()].find((m) => m.id !== except && m.peerURLs.some((u) => peerURLs.includes(u)));
    if (clash !== undefined) throw new MembershipError(409, 'membership: peerURL exists');
  }

  private refuseUnlessLeader(action: string): void {
    const { lead } = this.deps.basicStatus();
    if (lead === this.deps.selfId) return;
    const leader = this.deps.members().get(lead);
    throw new MembershipError(412, `membership: only the leader can ${action}; ask ${leader?.clientURLs[0] ?? 'the leader (none now)'}`);
  }

  /**
   * etcd's strict reconfiguration check (its default --strict-reconfig-check): a new voter is
   * refused unless the members that have started (published their name, as the attributes entry
   * does) would still be a quorum of the voters, the new one counted. Growing a one-member cluster
   * to two is allowed, as etcd allows it to restore a cluster from one member's data.
   */
  private readyToAddVoter(): boolean {
    const voters = [...this.deps.members().values()].filter((m) => m.isLearner !== true);
    const started = voters.filter((m) => m.name !== '').length;
    const after = voters.length + 1;
    if (started === 1 && after === 2) return true;
    return started >= Math.floor(after / 2) + 1;
  }

  /** Removing a voter is refused unless the started members among the voters left are a quorum of them; a learner may always go. */
  private readyToRemove(id: NodeId): boolean {
    if (this.deps.members().get(id)?.isLearner === true) return true;
    const left = [...this.deps.members().values()].filter((m) => m.isLearner !== true && m.id !== id);
    return left.filter((m) => m.name !== '').length >= Math.floor(left.length / 2) + 1;
  }

  /** etcd's ErrNotEnoughStartedMembers: its v2 API answers it as a bare 500, and says why only in its log. */
  private notEnoughStarted(action: string, fields: Record<string, string>): MembershipError {
    this.deps.log.warn(`refused to ${action}: etcdserver: re-configuration failed due to not enough started members`, fields);
    return new MembershipError(500, 'Internal Server Error');
  }
}
