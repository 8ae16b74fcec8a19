import type { NodeId } from '../../src/raft/types.ts';
import type { Membership } from '../../src/server/member-env.ts';
import type { Member } from '../../src/server/member.ts';
import { MemoryBackend } from '../../src/storage/memory-backend.ts';
import { seededRandom } from '../../src/raft/rand.ts';
import type { StoreEvent } from '../../src/store/event.ts';
import type { AppliedLog } from './applied-log.ts';
import type { Owner, Scheduler } from './scheduler.ts';
import type { Target, TargetPicker } from './sim-clients.ts';
import type { SimNetwork } from './sim-network.ts';
import { peerUrlOf, simConfig, startSimMember } from './sim-member.ts';
import type { Trace } from './trace.ts';

/** `outside`: added by a change that has not taken effect (as far as it can tell): it keeps trying to join. */
type NodeState = 'starting' | 'up' | 'down' | 'outside' | 'removed';

/** One member's place in the cluster: its disk outlives its incarnations. */
export interface SimNode {
  readonly name: string;
  /** How far this member's wall clock is off (ms): TTLs must not expire by it. */
  readonly skewMs: number;
  /** The longest one write to its disk takes (ms): a slow disk makes it lag behind the others. */
  readonly diskLatencyMs: number;
  backend: MemoryBackend;
  member: Member | undefined;
  id: NodeId | undefined;
  incarnation: number;
  state: NodeState;
  /** Started with --initial-cluster-state existing (added by a membership change). */
  readonly joins: boolean;
}

export interface ClusterOptions {
  readonly size: number;
  readonly snapshotCount: number;
  readonly maxSkewMs: number;
  /** The longest a write to a slow disk takes (ms); some members have one. */
  readonly slowDiskMs: number;
}

/**
 * The members, each the real server code on simulated time, network and disk, and what can
 * happen to them: crashes (a restart finds only what was synced), fsync errors and full disks
 * (the member fail-stops), pauses, and membership changes. Every store event any member applies
 * goes into the applied log.
 */
export class SimCluster implements TargetPicker {
  readonly nodes: SimNode[] = [];
  private readonly scheduler: Scheduler;
  private readonly network: SimNetwork;
  private readonly random: () => number;
  private readonly trace: Trace;
  private readonly applied: AppliedLog;
  private readonly options: ClusterOptions;
  private clusterNames: string[] = [];
  /** Whether a removal and addition is under way: one at a time, as an operator does them. */
  private replacing = false;
  readonly stats = { crashes: 0, failStops: 0, restarts: 0, pauses: 0, removed: 0, added: 0 };

  constructor(scheduler: Scheduler, network: SimNetwork, random: () => number, trace: Trace, applied: AppliedLog, options: ClusterOptions) {
    this.scheduler = scheduler;
    this.network = network;
    this.random = random;
    this.trace = trace;
    this.applied = applied;
    this.options = options;
  }

  /** Starts a new cluster of `options.size` members, as the scheduler runs (their disks take time). */
  bootstrap(): void {
    this.clusterNames = Array.from({ length: this.options.size }, (_, i) => `m${i + 1}`);
    for (const name of this.clusterNames) this.nodes.push(this.newNode(name, false));
    for (const node of this.nodes) this.scheduler.after(0, () => void this.start(node));
  }

  private newNode(name: string, joins: boolean): SimNode {
    const skewMs = Math.round((this.random() * 2 - 1) * this.options.maxSkewMs);
    const diskLatencyMs = this.random() < 0.5 ? 2 : Math.floor(this.random() * this.options.slowDiskMs);
    const node: SimNode = { name, skewMs, diskLatencyMs, backend: new MemoryBackend({ io: () => this.diskWrite(node) }), member: undefined, id: undefined, incarnation: 0, state: joins ? 'outside' : 'down', joins };
    return node;
  }

  /** A disk write completes after a simulated latency, unless its member's incarnation dies first. */
  private diskWrite(node: SimNode): Promise<void> {
    const owner = ownerOf(node);
    const latency = Math.floor(this.random() * (node.diskLatencyMs + 1));
    return new Promise((resolve) => this.scheduler.after(latency, resolve, owner));
  }

  get upNodes(): SimNode[] {
    return this.nodes.filter((n) => n.state === 'up' && n.member !== undefined);
  }

  pick(random: () => number): Target | undefined {
    const up = this.upNodes;
    if (up.length === 0) return undefined;
    const node = up[Math.floor(random() * up.length)]!;
    const clock = this.scheduler.clockFor(node.skewMs);
    return { name: node.name, member: node.member!, now: () => clock.now() };
  }

  /** Starts the node's next incarnation on its disk. */
  async start(node: SimNode): Promise<void> {
    // One incarnation at a time on a disk (a member being added is started by whoever adds it).
    if (node.state === 'starting' || node.state === 'up' || node.state === 'removed') return;
    node.incarnation++;
    node.state = 'starting';
    const incarnation = node.incarnation;
    const owner = ownerOf(node);
    const config = simConfig(node.name, node.joins ? [...this.clusterNames, node.name] : this.clusterNames, node.joins ? 'existing' : 'new', this.options.snapshotCount);
    try {
      const member = await startSimMember(config, node.backend, {
        scheduler: this.scheduler,
        owner,
        skewMs: node.skewMs,
        random: seededRandom(Math.floor(this.random() * 2 ** 32)),
        transport: this.network.transportFor(owner),
        join: () => this.join(node),
        trace: this.trace,
        fatal: (what, cause) => {
          if (node.incarnation === incarnation && node.state === 'up') this.failStopped(node, what, cause);
        },
      });
      if (node.incarnation !== incarnation) return;
      node.member = member;
      node.id = member.id;
      node.state = 'up';
      member.onRemoved = () => {
        if (node.incarnation === incarnation) this.removed(node);
      };
      this.observe(node, member);
    } catch (error) {
      if (node.incarnation !== incarnation) return;
      const message = error instanceof Error ? error.message : String(error);
      this.trace.line(`${node.name} did not start: ${message}`);
      this.scheduler.retire(owner);
      const neverAdded = node.joins && node.id === undefined && /has no member with peer URL/.test(message);
      node.state = /was removed/.test(message) ? 'removed' : neverAdded ? 'outside' : 'down';
      if (node.state !== 'removed') node.backend = node.backend.crash();
    }
  }

  /** What a joining member learns from a running one (GET /members on its peer URL). */
  private join(joining: SimNode): Promise<Membership> {
    for (const node of this.upNodes) {
      if (node === joining) continue;
      const members = [...node.member!.memberList()];
      const self = members.find((m) => m.peerURLs.includes(peerUrlOf(joining.name)));
      if (self === undefined) return Promise.reject(new Error(`cluster has no member with peer URL ${peerUrlOf(joining.name)}`));
      return Promise.resolve({ clusterId: node.member!.clusterId, members, selfId: self.id });
    }
    return Promise.reject(new Error('no member answered'));
  }

  /** Records every event the member's store applies (and the store's replacement's, after a snapshot). */
  private observe(node: SimNode, member: Member): void {
    const incarnation = node.incarnation;
    const record = (event: StoreEvent): void => {
      if (node.incarnation === incarnation) this.applied.record(node.name, event, this.scheduler.now);
    };
    const watch = (): void => {
      const store = member.store;
      // What it applied before this call (a restart replays its log at once), then what comes.
      for (const event of store.history.scan('/', true, store.history.startIndex, store.history.capacity)) record(event);
      store.watch('/', true, true, 0, record);
    };
    member.storeReplacedListeners.add(watch);
    watch();
  }

  /** The member is gone at once: its timers, deliveries and unsynced writes with it. */
  crash(node: SimNode): void {
    this.trace.line(`${node.name} crashes`);
    this.stats.crashes++;
    this.takeDown(node);
    node.backend = node.backend.crash();
  }

  private takeDown(node: SimNode): void {
    this.scheduler.retire(ownerOf(node));
    if (node.member !== undefined) this.network.detach(node.member);
    node.member = undefined;
    node.incarnation++;
    node.state = 'down';
  }

  private failStopped(node: SimNode, what: string, cause: unknown): void {
    this.trace.line(`${node.name} fail-stops: ${what}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.stats.failStops++;
    this.takeDown(node);
    // The process exits. Its writes stay in the page cache after a full disk; after an fsync
    // error the kernel may have dropped what it had not synced.
    const full = cause instanceof Error && /ENOSPC/.test(cause.message);
    node.backend = full ? node.backend.reopen() : node.backend.crash();
  }

  private removed(node: SimNode): void {
    this.trace.line(`${node.name} learns it was removed and stops`);
    this.takeDown(node);
    node.state = 'removed';
  }

  async restart(node: SimNode): Promise<void> {
    if (node.state !== 'down' && node.state !== 'outside') return;
    node.backend.diskFull(Infinity);
    this.trace.line(`${node.name} restarts`);
    this.stats.restarts++;
    await this.start(node);
  }

  /** The next synced write of the member fails (an fsync error): it fail-stops. */
  failSync(node: SimNode): void {
    this.trace.line(`${node.name}: its next fsync fails`);
    node.backend.failSyncs();
  }

  /** The member's disk has `bytes` of room left. */
  fillDisk(node: SimNode, bytes: number): void {
    this.trace.line(`${node.name}: disk full, ${bytes} bytes left`);
    node.backend.diskFull(bytes);
  }

  pause(node: SimNode, ms: number): void {
    this.trace.line(`${node.name} pauses for ${ms} ms`);
    this.stats.pauses++;
    this.scheduler.pause(ownerOf(node), this.scheduler.now + ms);
  }

  isPaused(node: SimNode): boolean {
    return this.scheduler.isPaused(ownerOf(node));
  }

  /**
   * Removes `victim` (asking another member) and adds a fresh member in its place, which joins
   * with --initial-cluster-state existing: the cluster keeps its size.
   */
  async replace(victim: SimNode, timeoutMs: number): Promise<void> {
    const asked = this.upNodes.find((n) => n !== victim);
    if (asked === undefined || victim.id === undefined || this.replacing) return;
    this.replacing = true;
    try {
      await this.removeAndAdd(asked, victim, victim.id, timeoutMs);
    } finally {
      this.replacing = false;
    }
  }

  private async removeAndAdd(asked: SimNode, victim: SimNode, victimId: NodeId, timeoutMs: number): Promise<void> {
    this.trace.line(`${asked.name}: remove member ${victim.name}`);
    const removal = await this.settle(asked.member!.removeMember(victimId), timeoutMs);
    this.trace.line(`${asked.name}: remove member ${victim.name}: ${removal}`);
    if (removal !== 'ok') return;
    this.stats.removed++;
    const adding = this.upNodes.find((n) => n !== victim);
    if (adding === undefined) return;
    const fresh = this.newNode(`m${this.nodes.length + 1}`, true);
    this.nodes.push(fresh);
    this.trace.line(`${adding.name}: add member ${fresh.name}`);
    const addition = await this.settle(adding.member!.addMember([peerUrlOf(fresh.name)], false), timeoutMs);
    this.trace.line(`${adding.name}: add member ${fresh.name}: ${addition}`);
    if (addition === 'ok') this.stats.added++;
    // Started whatever the answer: an addition that timed out may still have been applied.
    await this.start(fresh);
  }

  /** "ok", the error's message, or "timed out". */
  private settle(pending: Promise<unknown>, timeoutMs: number): Promise<string> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (text: string): void => {
        if (done) return;
        done = true;
        cancel();
        resolve(text);
      };
      const cancel = this.scheduler.after(timeoutMs, () => finish('timed out'));
      pending.then(() => finish('ok'), (error: unknown) => finish(error instanceof Error ? error.message : String(error)));
    });
  }
}

export function ownerOf(node: SimNode): Owner {
  return `${node.name}#${node.incarnation}`;
}
