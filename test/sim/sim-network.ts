import { describeMessage } from '../../src/raft/describe.ts';
import type { Message, NodeId } from '../../src/raft/types.ts';
import type { MemberTransport } from '../../src/server/member-env.ts';
import { plausible } from '../../src/server/peer-listener.ts';
import type { PeerStats } from '../../src/server/peer-stats.ts';
import type { TransportHost } from '../../src/server/transport-host.ts';
import type { Owner, Scheduler } from './scheduler.ts';
import type { Trace } from './trace.ts';

/** How unreliable the network is: drawn from the seed for each run. */
export interface NetworkFaults {
  lossRate: number;
  duplicateRate: number;
  minDelayMs: number;
  /** Delays vary between min and max: messages overtake each other (reordering). */
  maxDelayMs: number;
}

interface Attached {
  readonly host: TransportHost;
  readonly transport: SimTransport;
  /** The scheduler owner of the member's incarnation: deliveries to it die with it. */
  readonly owner: Owner;
}

/**
 * The members' network, simulated: every message is delayed, and may be lost, duplicated or
 * overtaken, by the seed; links can be cut (partitions). It hands messages over as PeerTransport
 * does: only to their addressee, only from a member (a removed one learns it, as from a 410), and
 * a snapshot's data read from the sender's storage and checked by the receiver before Raft sees it.
 */
export class SimNetwork {
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly trace: Trace;
  private readonly faults: NetworkFaults;
  private readonly hosts = new Map<NodeId, Attached>();
  /** Each member's distance: its messages take this much longer each way (some members are far away). */
  private readonly distance = new Map<NodeId, number>();
  /** Cut links, "from>to". */
  private readonly cut = new Set<string>();
  delivered = 0;

  constructor(scheduler: Scheduler, random: () => number, trace: Trace, faults: NetworkFaults) {
    this.scheduler = scheduler;
    this.random = random;
    this.trace = trace;
    this.faults = faults;
  }

  /** The transport factory for one member incarnation (MemberEnv.transport). */
  transportFor(owner: Owner): (host: TransportHost) => MemberTransport {
    return (host) => {
      if (!this.distance.has(host.id)) this.distance.set(host.id, this.random() < 0.5 ? 0 : 20 + Math.floor(this.random() * 60));
      const transport = new SimTransport(this, host);
      this.hosts.set(host.id, { host, transport, owner });
      return transport;
    };
  }

  /** The member is gone (crashed, stopped): nothing reaches it or leaves it from now on. */
  detach(host: TransportHost): void {
    const attached = this.hosts.get(host.id);
    if (attached?.host !== host) return;
    attached.transport.closed = true;
    this.hosts.delete(host.id);
  }

  /** Cuts both directions between every member of `side` and everyone else. */
  partition(side: readonly NodeId[], others: readonly NodeId[]): void {
    this.trace.line(`partition: ${side.join(',')} | ${others.join(',')}`);
    for (const a of side) {
      for (const b of others) {
        this.cut.add(`${a}>${b}`);
        this.cut.add(`${b}>${a}`);
      }
    }
  }

  heal(): void {
    if (this.cut.size > 0) this.trace.line('partition heals');
    this.cut.clear();
  }

  get partitioned(): boolean {
    return this.cut.size > 0;
  }

  /** Whether `host` is still the attached incarnation (a crashed sender hears nothing back). */
  private attached(host: TransportHost): boolean {
    return this.hosts.get(host.id)?.host === host;
  }

  private linkUp(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(`${from}>${to}`) && this.hosts.has(to);
  }

  send(sender: TransportHost, m: Message): void {
    // As PeerTransport: no URL known for the peer (a member added while this one was down), no connection.
    if (!this.linkUp(sender.id, m.to) || (sender.peerUrlsOf(m.to)?.length ?? 0) === 0) {
      // As a refused connection: the sender's core hears of it.
      sender.reportUnreachable(m.to);
      if (m.type === 'snap') sender.reportSnapshot(m.to, false);
      return;
    }
    if (m.type === 'snap') return void this.sendSnapshot(sender, m);
    if (this.random() < this.faults.lossRate) return;
    const copies = this.random() < this.faults.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) this.deliverLater(sender, m, this.delay(m));
  }

  private delay(m: Message): number {
    const { minDelayMs, maxDelayMs } = this.faults;
    const distance = (this.distance.get(m.from) ?? 0) + (this.distance.get(m.to) ?? 0);
    return distance + minDelayMs + Math.floor(this.random() * (maxDelayMs - minDelayMs + 1));
  }

  private deliverLater(sender: TransportHost, m: Message, delay: number): void {
    const target = this.hosts.get(m.to);
    if (target !== undefined) this.scheduler.after(delay, () => void this.handOver(sender, m), target.owner);
  }

  /** What PeerTransport's listener does with a message that arrived; whether Raft got it. */
  private handOver(sender: TransportHost, m: Message): boolean {
    const target = this.hosts.get(m.to);
    if (target === undefined || this.cut.has(`${m.from}>${m.to}`)) return false;
    const { host } = target;
    if (host.isRemoved(m.from)) {
      if (this.attached(sender)) sender.removedByPeer();
      return false;
    }
    if (!host.admits(m.from, sender.peerUrlsOf(sender.id))) {
      // The rule PeerTransport's listener applies, with the sender's URLs as its X-PeerURLs header.
      if (this.trace.verbose) this.trace.line(`dropped, from a non-member: ${describeMessage(m)}`);
      return false;
    }
    if (!plausible(host, m)) return false;
    this.delivered++;
    if (this.trace.verbose) this.trace.line(`deliver ${describeMessage(m)}`);
    host.receive([m]);
    return true;
  }

  /** A snapshot: its data from the sender's storage, checked by the receiver, then handed over. */
  private async sendSnapshot(sender: TransportHost, m: Message): Promise<void> {
    const snapshot = m.snapshot!;
    let data: Uint8Array;
    try {
      data = snapshot.data.length > 0 ? snapshot.data : await sender.snapshotImage(snapshot.meta.index);
    } catch {
      if (!this.attached(sender)) return;
      sender.reportUnreachable(m.to);
      sender.reportSnapshot(m.to, false);
      return;
    }
    const target = this.hosts.get(m.to);
    const lost = this.random() < this.faults.lossRate;
    if (target === undefined || lost || !this.attached(sender)) {
      if (this.attached(sender)) sender.reportSnapshot(m.to, false);
      return;
    }
    this.trace.line(`snapshot ${sender.id}->${m.to} at index ${snapshot.meta.index} (${data.length} bytes)`);
    const report = (succeeded: boolean): void => {
      if (this.attached(sender)) sender.reportSnapshot(m.to, succeeded);
    };
    // Not the receiver's event: a receiver that crashes meanwhile fails the transfer, as a broken
    // connection does, and the sender's core hears of it (else it would wait for it forever).
    this.scheduler.after(this.delay(m), () => {
      if (this.hosts.get(m.to) !== target || this.cut.has(`${m.from}>${m.to}`)) return report(false);
      target.host.checkSnapshot(data).then(
        () => report(this.hosts.get(m.to) === target && this.handOver(sender, { ...m, snapshot: { meta: snapshot.meta, data } })),
        (error: unknown) => {
          this.trace.line(`snapshot ${sender.id}->${m.to} refused: ${error instanceof Error ? error.message : String(error)}`);
          report(false);
        },
      );
    });
  }
}

/** One member's end of the simulated network. */
class SimTransport implements MemberTransport {
  private readonly network: SimNetwork;
  private readonly host: TransportHost;
  closed = false;
  readonly peerStats = new Map<NodeId, PeerStats>();
  sentAppends = 0;
  receivedAppends = 0;

  constructor(network: SimNetwork, host: TransportHost) {
    this.network = network;
    this.host = host;
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      if (m.type === 'app') this.sentAppends++;
      this.network.send(this.host, m);
    }
  }

  close(): void {
    this.network.detach(this.host);
    this.closed = true;
  }
}
