import type { Message, NodeId } from '../raft/types.ts';
import type { ServeConfig } from './config.ts';
import type { Fatal } from './fail-stop.ts';
import type { Logger } from './logger.ts';
import type { MemberInfo } from './member-info.ts';
import type { PeerStats } from './peer-stats.ts';
import type { TransportHost } from './transport-host.ts';

/** The time as a member sees it. */
export interface Clock {
  /** Wall-clock milliseconds since the epoch (TTLs are wall-clock times, as in etcd). */
  now(): number;
  /** Milliseconds on a clock that never goes back, with sub-millisecond precision (durations). */
  monotonic(): number;
}

/** Cancels a timer; calling it again does nothing. */
export type Cancel = () => void;

/** Timers the member schedules its work with: real ones in `kvd serve`, simulated ones in tests. */
export interface Timers {
  /** Calls `callback` once, `ms` from now. */
  after(ms: number, callback: () => void): Cancel;
  /** Calls `callback` every `ms` from now on. */
  every(ms: number, callback: () => void): Cancel;
}

/** How a member's Raft messages reach its peers: PeerTransport over HTTP, or a simulated network. */
export interface MemberTransport {
  send(messages: readonly Message[]): void;
  close(): void;
  /** Per-peer round trips and counts, for /v2/stats/leader and /v2/stats/self. */
  readonly peerStats: ReadonlyMap<NodeId, PeerStats>;
  readonly sentAppends: number;
  readonly receivedAppends: number;
}

/** The membership record kept in the data dir (with this member's own id) and in snapshots. */
export interface Membership {
  readonly clusterId: number;
  readonly members: readonly MemberInfo[];
  readonly selfId?: NodeId;
  /** Members removed for good: peers answer them 410 Gone, so that they learn it and stop. */
  readonly removed?: readonly NodeId[];
}

/** Asks a running cluster for its membership (--initial-cluster-state existing). */
export type JoinCluster = (config: ServeConfig) => Promise<Membership>;

/**
 * Everything a member takes from the world outside it. `kvd serve` wires the real ones
 * (serve.ts); the cluster simulation wires simulated ones, so a member is ticked by hand.
 */
export interface MemberEnv {
  readonly clock: Clock;
  readonly timers: Timers;
  /** Uniform in [0, 1): election timeouts, the boot id in request ids. */
  readonly random: () => number;
  readonly transport: (host: TransportHost) => MemberTransport;
  readonly join: JoinCluster;
  readonly log: Logger;
  /** Called once if the member cannot go on (fail-stop). */
  readonly fatal: Fatal;
}

/** The real world: Date.now, Node's timers, Math.random. */
export const realClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() };

export const realTimers: Timers = {
  after(ms, callback) {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
  every(ms, callback) {
    const timer = setInterval(callback, ms);
    return () => clearInterval(timer);
  },
};

/** Resolves after `ms` on the given timers. */
export function sleep(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => timers.after(ms, resolve));
}
