import type { Message, NodeId } from '../raft/types.ts';

/** Round trips to one peer, as /v2/stats/leader reports them (latency in milliseconds). */
export interface PeerStats {
  success: number;
  fail: number;
  current: number;
  minimum: number;
  maximum: number;
  sum: number;
  sumOfSquares: number;
}

/** Heartbeat round trips to each peer: a heartbeat out, its response back on the peer's own stream. */
export class PeerRoundTrips {
  readonly stats = new Map<NodeId, PeerStats>();
  /** The first unanswered heartbeat to each peer. */
  private readonly heartbeatSentAt = new Map<NodeId, number>();

  /** A heartbeat went to `to`; the first one unanswered starts the round trip. */
  heartbeatSent(to: NodeId): void {
    if (!this.heartbeatSentAt.has(to)) this.heartbeatSentAt.set(to, performance.now());
  }

  /** Closes the round trip a heartbeat response answers; whether it did. */
  answered(m: Message): boolean {
    if (m.type !== 'heartbeatResp') return false;
    const sent = this.heartbeatSentAt.get(m.from);
    if (sent === undefined) return false;
    this.heartbeatSentAt.delete(m.from);
    this.record(m.from, performance.now() - sent);
    return true;
  }

  /** The connection to `to` broke: the round trip under way is lost, and counts as a failure. */
  broke(to: NodeId): void {
    this.heartbeatSentAt.delete(to);
    this.record(to, undefined);
  }

  private record(to: NodeId, latencyMs: number | undefined): void {
    let stats = this.stats.get(to);
    if (stats === undefined) {
      stats = { success: 0, fail: 0, current: 0, minimum: Infinity, maximum: 0, sum: 0, sumOfSquares: 0 };
      this.stats.set(to, stats);
    }
    if (latencyMs === undefined) {
      stats.fail++;
      return;
    }
    stats.success++;
    stats.current = latencyMs;
    stats.minimum = Math.min(stats.minimum, latencyMs);
    stats.maximum = Math.max(stats.maximum, latencyMs);
    stats.sum += latencyMs;
    stats.sumOfSquares += latencyMs * latencyMs;
  }
}
