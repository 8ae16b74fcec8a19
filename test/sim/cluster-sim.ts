import { seededRandom } from '../../src/raft/rand.ts';
import { AppliedLog, storeDigest } from './applied-log.ts';
import { checkRun } from './checks.ts';
import type { Op } from './history.ts';
import { Scheduler } from './scheduler.ts';
import type { Workload } from './sim-clients.ts';
import { SimClients } from './sim-clients.ts';
import type { ClusterOptions, SimNode } from './sim-cluster.ts';
import { SimCluster } from './sim-cluster.ts';
import { ELECTION_MS } from './sim-member.ts';
import type { NetworkFaults } from './sim-network.ts';
import { SimNetwork } from './sim-network.ts';
import { Trace } from './trace.ts';

export interface ClusterSimOptions {
  /** Keep every line of the trace (messages included), not only the tail. */
  readonly verbose?: boolean;
  /** Simulated ms of faults and client requests (default 12 s). */
  readonly faultMs?: number;
}

export interface ClusterSimResult {
  readonly seed: number;
  readonly failures: readonly string[];
  /** The trace's last lines (all of them when verbose). */
  readonly trace: readonly string[];
  /** A digest of the whole trace: the same seed gives the same one. */
  readonly digest: string;
  readonly stats: Readonly<Record<string, number>>;
}

/** How long the cluster has, once healed, to agree again (simulated ms). */
const CONVERGE_MS = 20_000;

/**
 * One seeded run of the whole cluster: members of the real server code on a simulated network,
 * clock and disks; clients and watchers issuing v2 requests; faults for `faultMs`, then the
 * network heals, every member restarts, and the run checks what the clients and members saw.
 */
export async function simulateCluster(seed: number, options: ClusterSimOptions = {}): Promise<ClusterSimResult> {
  const draw = seededRandom(seed);
  const streams = () => seededRandom(Math.floor(draw() * 2 ** 32));
  const settings = drawSettings(draw);
  const scheduler = new Scheduler();
  const trace = new Trace(() => scheduler.now, options.verbose === true);
  trace.line(`seed ${seed}: ${JSON.stringify({ ...settings.cluster, ...settings.faults, ...settings.workload })}`);
  const network = new SimNetwork(scheduler, streams(), trace, settings.faults);
  const applied = new AppliedLog();
  const cluster = new SimCluster(scheduler, network, streams(), trace, applied, settings.cluster);
  const clients = new SimClients(scheduler, streams(), trace, cluster, settings.workload);
  const run: Run = { scheduler, trace, network, cluster, clients, nemesisRandom: streams(), faultMs: options.faultMs ?? 12_000, timeoutMs: settings.workload.timeoutMs };
  const failures: string[] = [];
  try {
    failures.push(...(await runPhases(run)));
    failures.push(...checkRun({ ops: clients.ops, watches: clients.watches, applied, registerKeys: clients.registerKeys, maxSkewMs: settings.cluster.maxSkewMs, endedAt: scheduler.now }));
  } catch (error) {
    failures.push(`the run threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  for (const failure of failures) trace.line(`FAIL ${failure}`);
  const expiries = [...applied.events.values()].filter((e) => e.action === 'expire').length;
  const watched = clients.watches.reduce((sum, w) => sum + w.events.length, 0);
  return { seed, failures, trace: trace.tail(), digest: trace.digest(), stats: { ...cluster.stats, ...countOps(clients.ops), expiries, watched, events: scheduler.events, messages: network.delivered, simMs: scheduler.now } };
}

/** The run's cluster, network and workload, drawn from the seed. */
function drawSettings(draw: () => number): { faults: NetworkFaults; cluster: ClusterOptions; workload: Workload } {
  return {
    faults: { lossRate: draw() * 0.05, duplicateRate: draw() * 0.03, minDelayMs: 1, maxDelayMs: 2 + Math.floor(draw() * 30) },
    cluster: { size: draw() < 0.7 ? 3 : 5, snapshotCount: 8 + Math.floor(draw() * 40), maxSkewMs: Math.floor(draw() * 400), slowDiskMs: Math.floor(draw() * 80) },
    workload: { clients: 3 + Math.floor(draw() * 3), watchers: 2, keys: 2 + Math.floor(draw() * 3), thinkMs: 150 + Math.floor(draw() * 200), timeoutMs: 4000 },
  };
}

interface Run {
  readonly scheduler: Scheduler;
  readonly trace: Trace;
  readonly network: SimNetwork;
  readonly cluster: SimCluster;
  readonly clients: SimClients;
  readonly nemesisRandom: () => number;
  readonly faultMs: number;
  readonly timeoutMs: number;
}

/**
 * The cluster starts and elects a leader; clients and faults for `faultMs`; then everything heals,
 * the requests in flight end, the members must agree again, a quorum read of every key, and the
 * members' stores are compared. Returns the failures of the cluster's own (liveness, stores).
 */
async function runPhases({ scheduler, trace, network, cluster, clients, nemesisRandom, faultMs, timeoutMs }: Run): Promise<string[]> {
  cluster.bootstrap();
  await scheduler.runUntil(2 * ELECTION_MS);
  clients.start(scheduler.now + faultMs);
  void nemesis(cluster, scheduler, network, nemesisRandom, scheduler.now + faultMs, timeoutMs);
  await scheduler.runUntil(scheduler.now + faultMs);
  heal(cluster, network, trace);
  await scheduler.runUntil(scheduler.now + timeoutMs + 500, () => !clients.busy);
  const diverged = await converge(cluster, scheduler);
  if (diverged.length > 0) return diverged;
  await finalReads(clients, cluster, scheduler, trace);
  const stalled = await converge(cluster, scheduler);
  return stalled.length > 0 ? stalled : compareStores(cluster, trace);
}

/** Faults until `until`: crashes, fsync errors, full disks, pauses, partitions, membership changes. */
async function nemesis(cluster: SimCluster, scheduler: Scheduler, network: SimNetwork, random: () => number, until: number, timeoutMs: number): Promise<void> {
  const sleep = (ms: number) => new Promise<void>((resolve) => scheduler.after(ms, resolve));
  while (scheduler.now < until) {
    await sleep(600 + Math.floor(random() * 1400));
    if (scheduler.now >= until) return;
    const members = cluster.nodes.filter((n) => n.state !== 'removed' && n.state !== 'outside');
    const up = cluster.upNodes;
    const out = members.length - up.filter((n) => !cluster.isPaused(n)).length;
    // At most a minority out at once, so that requests mostly still succeed.
    const mayTakeOne = out + 1 <= Math.floor((members.length - 1) / 2);
    const victim = up[Math.floor(random() * up.length)];
    const down = members.filter((n) => n.state === 'down');
    const roll = random();
    if (down.length > 0 && roll < 0.35) {
      await cluster.restart(down[Math.floor(random() * down.length)]!);
    } else if (network.partitioned && roll < 0.55) {
      network.heal();
    } else if (victim === undefined || !mayTakeOne) {
      continue;
    } else if (roll < 0.6) {
      cluster.crash(victim);
    } else if (roll < 0.65) {
      cluster.failSync(victim);
    } else if (roll < 0.7) {
      cluster.fillDisk(victim, Math.floor(random() * 20_000));
    } else if (roll < 0.8) {
      cluster.pause(victim, 300 + Math.floor(random() * 2500));
    } else if (roll < 0.92) {
      partition(cluster, network, victim, random);
    } else {
      void cluster.replace(victim, timeoutMs);
    }
  }
}

/** Cuts a minority with `victim` in it off from the others. */
function partition(cluster: SimCluster, network: SimNetwork, victim: SimNode, random: () => number): void {
  const others = cluster.nodes.filter((n) => n.id !== undefined && n !== victim && n.state !== 'removed');
  const side = [victim];
  const minority = Math.max(1, Math.floor(others.length / 2));
  const size = 1 + Math.floor(random() * minority);
  while (side.length < size) side.push(others.splice(Math.floor(random() * others.length), 1)[0]!);
  network.partition(side.map((n) => n.id!), cluster.nodes.filter((n) => n.id !== undefined && !side.includes(n)).map((n) => n.id!));
}

function heal(cluster: SimCluster, network: SimNetwork, trace: Trace): void {
  trace.line('heal: the network heals, every member that is down restarts, its disk repaired');
  network.heal();
  for (const node of cluster.nodes) if (node.state === 'down' || node.state === 'outside') void cluster.restart(node);
}

/** Runs until every member is up and has applied the same index; failures if that does not come. */
async function converge(cluster: SimCluster, scheduler: Scheduler): Promise<string[]> {
  const deadline = scheduler.now + CONVERGE_MS;
  const agreed = (): boolean => {
    const members = cluster.nodes.filter((n) => n.state !== 'removed' && n.state !== 'outside');
    if (members.some((n) => n.state !== 'up')) return false;
    const indexes = new Set(members.map((n) => n.member!.raftIndex));
    const leaders = new Set(members.map((n) => n.member!.leader));
    return indexes.size === 1 && leaders.size === 1 && !leaders.has(0) && members.every((n) => n.member!.commitIndex === n.member!.raftIndex);
  };
  while (scheduler.now < deadline) {
    for (const node of cluster.nodes) if (node.state === 'down' || node.state === 'outside') void cluster.restart(node);
    await scheduler.runUntil(scheduler.now + 250);
    if (agreed()) return [];
  }
  const states = cluster.nodes.map((n) => `${n.name} ${n.state}${n.member === undefined ? '' : ` applied ${n.member.raftIndex} commit ${n.member.commitIndex} leader ${n.member.leader}`}`);
  return [`the cluster did not agree again within ${CONVERGE_MS / 1000} s of healing: ${states.join('; ')}`];
}

/** A quorum read of every register key once the cluster is healed: no acknowledged write lost. */
async function finalReads(clients: SimClients, cluster: SimCluster, scheduler: Scheduler, trace: Trace): Promise<void> {
  trace.line('final quorum reads');
  // From the first member that is up: the reads need not be spread.
  const random = () => 0;
  for (const key of clients.registerKeys) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const target = cluster.pick(random);
      if (target === undefined) break;
      let answered: Op | undefined;
      void clients.perform('final', target, 'qget', '', key).then((op) => (answered = op));
      // The client's own timeout ends the request well before this.
      await scheduler.runUntil(scheduler.now + 10_000, () => answered !== undefined);
      if (answered?.outcome === 'ok') break;
    }
  }
}

/** Every member that is up holds the same store (hidden keys, indexes, expiry times). */
function compareStores(cluster: SimCluster, trace: Trace): string[] {
  const digests = cluster.upNodes.map((n) => `${n.name}@${n.member!.raftIndex}:${storeDigest(n.member!.store)}`);
  trace.line(`stores: ${digests.join(' ')}`);
  const distinct = new Set(digests.map((d) => d.split('@')[1]));
  return distinct.size <= 1 ? [] : [`members at the same applied index hold different stores: ${digests.join(' ')}`];
}

function countOps(ops: readonly Op[]): Record<string, number> {
  const counts = { ops: ops.length, ok: 0, failed: 0, unknown: 0 };
  for (const op of ops) counts[op.outcome]++;
  return counts;
}
