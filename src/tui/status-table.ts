import type { ClusterSnapshot, MemberRow } from '../client/cluster-status.ts';

/** How a cell should look: the view colours it, plain text ignores it. */
export type Tone = 'good' | 'bad' | 'warn' | 'strong' | undefined;

export interface Column {
  readonly header: string;
  /** 0 is always shown; on a narrow terminal the highest numbers go first. */
  readonly priority: number;
  readonly right?: boolean;
  cell(row: MemberRow): string;
  tone?(row: MemberRow): Tone;
}

const dash = '-';
const num = (value: number | undefined) => (value === undefined ? dash : String(value));
const perSecond = (value: number | undefined) => (value === undefined ? dash : value < 10 ? value.toFixed(1) : String(Math.round(value)));
/** How long a member has run, in its largest unit: 42s, 5m, 3h, 2d. */
export function uptime(row: MemberRow): string {
  const startedAt = row.status?.startedAt;
  if (startedAt === undefined || row.status?.latencyMs === undefined) return dash;
  const seconds = Math.max(0, Math.floor((row.status.probedAt - startedAt) / 1000));
  const [unit, size] = ([['d', 86_400], ['h', 3600], ['m', 60]] as const).find(([, s]) => seconds >= s) ?? ['s', 1];
  return `${Math.floor(seconds / size)}${unit}`;
}

/** A size in its largest binary unit, as `du -h` writes it: 512B, 4.0K, 12M, 1.5G. */
export function size(bytes: number | undefined): string {
  if (bytes === undefined) return dash;
  const [unit, scale] = ([['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const).find(([, s]) => bytes >= s) ?? ['B', 1];
  const value = bytes / scale;
  return unit === 'B' ? `${bytes}B` : `${value < 10 ? value.toFixed(1) : Math.round(value)}${unit}`;
}

const millis = (value: number | undefined) => (value === undefined ? dash : value < 10 ? `${value.toFixed(2)}ms` : `${Math.round(value)}ms`);

/** down: did not answer; unhealthy: answered but has no leader or cannot serve. */
export function health(row: MemberRow): 'up' | 'down' | 'unhealthy' | 'not started' {
  if (row.status === undefined) return 'not started';
  if (row.status.latencyMs === undefined) return 'down';
  return row.status.healthy ? 'up' : 'unhealthy';
}

export function role(row: MemberRow): string {
  if (health(row) === 'down' || health(row) === 'not started') return dash;
  return row.isLeader ? 'leader' : row.isLearner ? 'learner' : 'follower';
}

export const COLUMNS: readonly Column[] = [
  { header: 'NAME', priority: 0, cell: (r) => r.name },
  { header: 'ID', priority: 4, cell: (r) => r.id ?? dash },
  { header: 'CLIENT URL', priority: 3, cell: (r) => r.endpoint ?? dash },
  { header: 'HEALTH', priority: 0, cell: health, tone: (r) => (health(r) === 'up' ? 'good' : 'bad') },
  { header: 'ROLE', priority: 0, cell: role, tone: (r) => (r.isLeader ? 'strong' : undefined) },
  { header: 'TERM', priority: 2, right: true, cell: (r) => num(r.status?.raftTerm) },
  { header: 'COMMIT', priority: 1, right: true, cell: (r) => num(r.status?.commitIndex ?? r.status?.raftIndex) },
  { header: 'APPLIED', priority: 2, right: true, cell: (r) => num(r.status?.appliedIndex ?? r.status?.raftIndex) },
  { header: 'LAG', priority: 0, right: true, cell: (r) => num(r.lag), tone: (r) => ((r.lag ?? 0) > 100 ? 'warn' : undefined) },
  { header: 'REQ/S', priority: 2, right: true, cell: (r) => perSecond(r.requestsPerSecond) },
  { header: 'PROP/S', priority: 3, right: true, cell: (r) => perSecond(r.proposalsPerSecond) },
  { header: 'TO LEADER', priority: 1, right: true, cell: (r) => (r.isLeader ? dash : millis(r.leaderLatencyMs)) },
  { header: 'UPTIME', priority: 3, right: true, cell: uptime },
  { header: 'DATA', priority: 3, right: true, cell: (r) => size(r.status?.dataSizeBytes) },
  { header: 'FSYNC P99', priority: 3, right: true, cell: (r) => millis(r.status?.fsyncP99Ms), tone: (r) => ((r.status?.fsyncP99Ms ?? 0) > 100 ? 'warn' : undefined) },
  { header: 'PENDING', priority: 3, right: true, cell: (r) => num(r.status?.pendingProposals) },
  { header: 'WATCHERS', priority: 4, right: true, cell: (r) => num(r.status?.watchers) },
  { header: 'LEADER CHG', priority: 4, right: true, cell: (r) => num(r.status?.leaderChanges) },
];

const GAP = 2;

/**
 * The columns that fit in `width` characters, dropping the least important first. `atLeast` holds
 * widths seen before (by header), so that the live view does not shift when a member goes down
 * and its figures turn into dashes.
 */
export function columnsFor(rows: readonly MemberRow[], width: number, atLeast: ReadonlyMap<string, number> = new Map()): Array<{ column: Column; width: number }> {
  const sized = COLUMNS.map((column) => ({ column, width: Math.max(column.header.length, atLeast.get(column.header) ?? 0, ...rows.map((r) => column.cell(r).length)) }));
  const total = (list: typeof sized) => list.reduce((sum, c) => sum + c.width, 0) + GAP * (list.length - 1);
  let shown = sized;
  for (let priority = 4; priority > 0 && total(shown) > width; priority--) shown = shown.filter((c) => c.column.priority < priority);
  return shown;
}

export function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** The widest cell of each column so far: `seen` grown by the rows of a new snapshot. */
export function widestCells(seen: ReadonlyMap<string, number>, rows: readonly MemberRow[]): Map<string, number> {
  return new Map(COLUMNS.map((column) => [column.header, Math.max(seen.get(column.header) ?? 0, ...rows.map((r) => column.cell(r).length))]));
}

/**
 * How many voting members are up against how many a commit needs: "3/3 up, can lose 1", or
 * "1/3 up: no quorum (a write needs 2)".
 */
export function quorumLine(snapshot: ClusterSnapshot): string {
  const voters = snapshot.rows.filter((row) => !row.isLearner);
  // Answering counts, healthy or not: a member without a leader still votes.
  const up = voters.filter((row) => health(row) === 'up' || health(row) === 'unhealthy').length;
  const quorum = Math.floor(voters.length / 2) + 1;
  const state = up >= quorum ? `can lose ${up - quorum}` : `no quorum (a write needs ${quorum})`;
  return `${up}/${voters.length} up, ${state}`;
}

/** The header line: cluster id, leader, term and key count. */
export function headline(snapshot: ClusterSnapshot): string {
  const leader = snapshot.leader === undefined ? 'no leader' : `leader ${snapshot.leader.name} (${snapshot.leader.id ?? dash})`;
  return [`cluster ${snapshot.clusterId ?? dash}`, quorumLine(snapshot), leader, `term ${num(snapshot.term)}`, `${num(snapshot.keys)} keys`].join(' · ');
}

/** The snapshot as plain text: the headline, then a table of the members that fits in `width`. */
export function formatSnapshot(snapshot: ClusterSnapshot, width = 200): string[] {
  const columns = columnsFor(snapshot.rows, width);
  const line = (cells: string[]) => cells.join(' '.repeat(GAP)).trimEnd();
  const lines = [headline(snapshot)];
  if (snapshot.problem !== undefined) lines.push(`warning: ${snapshot.problem}`);
  lines.push(line(columns.map((c) => pad(c.column.header, c.width, c.column.right))));
  for (const row of snapshot.rows) lines.push(line(columns.map((c) => pad(c.column.cell(row), c.width, c.column.right))));
  return lines;
}
