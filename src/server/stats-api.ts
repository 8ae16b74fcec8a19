import type { Member } from './member.ts';
import { formatId } from './member-id.ts';

/** etcd's /v2/stats/self: this member, its leader, and the appends it sent and received. */
export function selfStats(member: Member, now: number): Record<string, unknown> {
  const state = member.isLeader ? 'StateLeader' : member.role === 'follower' ? 'StateFollower' : 'StateCandidate';
  return {
    name: member.name,
    id: formatId(member.id),
    state,
    startTime: member.startTime.toISOString(),
    leaderInfo: { leader: formatId(member.leader), uptime: `${Math.round((now - member.startTime.getTime()) / 1000)}s`, startTime: member.startTime.toISOString() },
    recvAppendRequestCnt: member.transport.receivedAppends,
    sendAppendRequestCnt: member.transport.sentAppends,
  };
}

/** etcd's /v2/stats/leader: per follower, round-trip latency (ms) and counts of sends. */
export function leaderStats(member: Member): Record<string, unknown> {
  const followers: Record<string, unknown> = {};
  for (const id of member.members.keys()) {
    if (id === member.id) continue;
    const s = member.transport.peerStats.get(id);
    const n = s?.success ?? 0;
    const average = n > 0 ? s!.sum / n : 0;
    const variance = n > 0 ? Math.max(0, s!.sumOfSquares / n - average * average) : 0;
    followers[formatId(id)] = {
      latency: { current: s?.current ?? 0, average, standardDeviation: Math.sqrt(variance), minimum: n > 0 ? s!.minimum : 0, maximum: s?.maximum ?? 0 },
      counts: { fail: s?.fail ?? 0, success: n },
    };
  }
  return { leader: formatId(member.id), followers };
}
