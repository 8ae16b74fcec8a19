import type { ServeConfig } from '../../src/server/config.ts';
import type { Fatal } from '../../src/server/fail-stop.ts';
import { Logger } from '../../src/server/logger.ts';
import type { JoinCluster, MemberEnv, MemberTransport } from '../../src/server/member-env.ts';
import { Member } from '../../src/server/member.ts';
import type { TransportHost } from '../../src/server/transport-host.ts';
import { DiskStorage } from '../../src/storage/disk-storage.ts';
import type { MemoryBackend } from '../../src/storage/memory-backend.ts';
import type { Scheduler, Owner } from './scheduler.ts';
import type { Trace } from './trace.ts';

/** Raft timing in the simulation: etcd's defaults. */
export const HEARTBEAT_MS = 100;
export const ELECTION_MS = 1000;

/** What a simulated member is started with beside its config. */
export interface SimMemberParts {
  readonly scheduler: Scheduler;
  /** The scheduler owner of this incarnation: its timers and deliveries die with it. */
  readonly owner: Owner;
  readonly skewMs: number;
  readonly random: () => number;
  readonly transport: (host: TransportHost) => MemberTransport;
  readonly join: JoinCluster;
  readonly trace: Trace;
  readonly fatal: Fatal;
}

export function peerUrlOf(name: string): string {
  return `http://${name}.sim:2380`;
}

export function clientUrlOf(name: string): string {
  return `http://${name}.sim:2379`;
}

/** A member's flags as `kvd serve` would resolve them, with small snapshots so that they happen often. */
export function simConfig(name: string, cluster: readonly string[], state: 'new' | 'existing', snapshotCount: number): ServeConfig {
  return {
    name,
    dataDir: `sim/${name}`,
    listenClientUrls: [new URL(clientUrlOf(name))],
    advertiseClientUrls: [clientUrlOf(name)],
    listenPeerUrls: [new URL(peerUrlOf(name))],
    advertisePeerUrls: [peerUrlOf(name)],
    initialCluster: new Map(cluster.map((member) => [member, [peerUrlOf(member)]])),
    initialClusterState: state,
    initialClusterToken: 'sim',
    snapshotCount,
    snapshotCatchupEntries: Math.max(5, Math.floor(snapshotCount / 4)),
    heartbeatIntervalMs: HEARTBEAT_MS,
    electionTimeoutMs: ELECTION_MS,
    logLevel: 'info',
    logFormat: 'text',
    maxRequestBytes: 1.5 * 1024 * 1024,
    maxClientConnections: 1000,
    maxTxnOps: 128,
    warnings: [],
  };
}

/** The member's log lines, into the trace: without the real time each line starts with (the trace has the simulated one). */
function traceLogger(name: string, trace: Trace): Logger {
  return new Logger('info', 'text', (line) => trace.line(`${name} ${line.replace(/^\S+ /, '')}`));
}

/** Starts the real member on simulated time, network and disk. */
export async function startSimMember(config: ServeConfig, backend: MemoryBackend, parts: SimMemberParts): Promise<Member> {
  const env: MemberEnv = {
    clock: parts.scheduler.clockFor(parts.skewMs),
    timers: parts.scheduler.timersFor(parts.owner),
    random: parts.random,
    transport: parts.transport,
    join: parts.join,
    log: traceLogger(config.name, parts.trace),
    fatal: parts.fatal,
  };
  const storage = await DiskStorage.openOn(backend, config.dataDir);
  return Member.start(config, env, storage);
}
