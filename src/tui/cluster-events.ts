import type { ClusterSnapshot, MemberRow } from '../client/cluster-status.ts';
import { health } from './status-table.ts';

/** Something that changed between two polls, with the time of the poll that saw it. */
export interface ClusterEvent {
  readonly at: number;
  readonly text: string;
}

/** How many events the live view keeps (the newest last). */
export const EVENTS_KEPT = 8;

const keyOf = (row: MemberRow): string => row.id ?? row.endpoint ?? row.name;

/**
 * What changed from `before` to `after`: members that went down or came back, members that joined
 * or left, a new term (an election) and a new leader, or none.
 */
export function clusterEvents(before: ClusterSnapshot | undefined, after: ClusterSnapshot): ClusterEvent[] {
  if (before === undefined) return [];
  const texts: string[] = [];
  const previous = new Map(before.rows.map((row) => [keyOf(row), row]));
  for (const row of after.rows) {
    const was = previous.get(keyOf(row));
    if (was === undefined) texts.push(`${row.name} joined`);
    else if (health(was) !== health(row)) texts.push(`${row.name} ${health(row)}${row.status?.error !== undefined && health(row) !== 'up' ? ` (${row.status.error})` : ''}`);
  }
  const current = new Set(after.rows.map(keyOf));
  for (const row of before.rows) if (!current.has(keyOf(row))) texts.push(`${row.name} removed`);
  if (after.term !== undefined && before.term !== undefined && after.term > before.term) texts.push(`election: term ${before.term} → ${after.term}`);
  const leaderBefore = before.leader?.name;
  const leaderAfter = after.leader?.name;
  if (leaderBefore !== leaderAfter) texts.push(leaderAfter === undefined ? `no leader (was ${leaderBefore})` : `leader ${leaderAfter}${leaderBefore === undefined ? '' : ` (was ${leaderBefore})`}`);
  return texts.map((text) => ({ at: after.at, text }));
}

/** The events kept after `events` are added: the newest EVENTS_KEPT. */
export function keepRecent(kept: readonly ClusterEvent[], events: readonly ClusterEvent[]): ClusterEvent[] {
  return [...kept, ...events].slice(-EVENTS_KEPT);
}

/** hh:mm:ss of a time, in the local time zone, for the events list. */
export function clockTime(at: number): string {
  const time = new Date(at);
  return [time.getHours(), time.getMinutes(), time.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
}
