import type { HttpTransport } from './http-transport.ts';
import { checkV2Api } from './keys-client.ts';
import { MembersClient } from './members-client.ts';
import type { HttpResponse } from './http-transport.ts';

/** What one member (one client URL) says about itself; fields are missing when it did not say. */
export interface MemberStatus {
  readonly endpoint: string;
  readonly healthy: boolean;
  /** Why the member is not healthy (it did not answer, or answered unhealthy). */
  readonly error?: string;
  readonly id?: string;
  readonly name?: string;
  readonly isLeader?: boolean;
  readonly leaderId?: string;
  readonly clusterId?: string;
  readonly raftTerm?: number;
  /** X-Raft-Index: the member's raft index as its API reports it. */
  readonly raftIndex?: number;
  /** X-Etcd-Index: the store's index. */
  readonly etcdIndex?: number;
  readonly commitIndex?: number;
  readonly appliedIndex?: number;
  readonly serverVersion?: string;
  readonly clusterVersion?: string;
  /** Round trip of the health check. */
  readonly latencyMs?: number;
  readonly keys?: number;
  /** Counters for rates: two probes apart, their difference over the time between. */
  readonly requestsTotal?: number;
  readonly proposalsTotal?: number;
  /** From /metrics: proposals waiting to commit, open watchers, leader changes seen, fsync p99. */
  readonly pendingProposals?: number;
  readonly watchers?: number;
  readonly leaderChanges?: number;
  readonly fsyncP99Ms?: number;
  /** When the member's process started (Date.now() scale), from /metrics or /v2/stats/self. */
  readonly startedAt?: number;
  /** Bytes of the member's data dir, from /metrics (kvd only). */
  readonly dataSizeBytes?: number;
  /** A leader's last round trip to each follower (ms, by member id), from its /metrics (kvd only). */
  readonly followerLatencyMs?: Readonly<Record<string, number>>;
  readonly probedAt: number;
}

// Metric names of kvd first, then etcd 3.4's equivalent.
const REQUESTS = ['kvd_http_requests_total', 'etcd_http_received_total'];
const PROPOSALS = ['kvd_proposals_committed_total', 'etcd_server_proposals_committed_total'];
const COMMIT = ['kvd_raft_commit_index', 'etcd_server_proposals_committed_total'];
const APPLIED = ['kvd_raft_applied_index', 'etcd_server_proposals_applied_total'];
const KEYS = ['kvd_store_keys'];
const PENDING = ['kvd_proposals_pending', 'etcd_server_proposals_pending'];
const WATCHERS = ['kvd_watchers'];
const LEADER_CHANGES = ['kvd_leader_changes_total', 'etcd_server_leader_changes_seen_total'];
const FSYNC = ['kvd_disk_fsync_duration_seconds', 'etcd_disk_wal_fsync_duration_seconds'];
/** kvd's identity gauge: a member whose /metrics has it is probed with that one request. */
const MEMBER_INFO = 'kvd_member_info';

/** Sums each metric family of a Prometheus text exposition (all label sets together). */
export function parseMetrics(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) sums.set(match[1]!, (sums.get(match[1]!) ?? 0) + value);
  }
  return sums;
}

/**
 * The q-quantile (0..1) of a Prometheus histogram in a text exposition, as the upper bound of the
 * first bucket that holds it (the resolution of the buckets); undefined without observations.
 */
export function histogramQuantile(text: string, name: string, q: number): number | undefined {
  const buckets: Array<{ le: number; count: number }> = [];
  const pattern = new RegExp(`^${name}_bucket\\{(?:[^}]*,)?le="([^"]+)"[^}]*\\}\\s+(\\S+)`);
  for (const line of text.split('\n')) {
    const match = pattern.exec(line);
    if (match !== null) buckets.push({ le: match[1] === '+Inf' ? Infinity : Number(match[1]), count: Number(match[2]) });
  }
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  const bucket = buckets.find((b) => b.count >= q * total);
  return bucket === undefined || bucket.le === Infinity ? buckets.findLast((b) => b.le !== Infinity)?.le : bucket.le;
}

/** Each sample of a metric in a text exposition, as its labels and its value. */
export function metricSamples(text: string, name: string): Array<{ labels: Map<string, string>; value: number }> {
  const samples: Array<{ labels: Map<string, string>; value: number }> = [];
  const pattern = new RegExp(`^${name}(?:\\{((?:[^"}]|"(?:[^"\\\\]|\\\\.)*")*)\\})?\\s+(\\S+)`);
  for (const line of text.split('\n')) {
    const match = pattern.exec(line);
    if (match === null) continue;
    const labels = new Map<string, string>();
    for (const [, label, value] of (match[1] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels.set(label!, value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)));
    }
    samples.push({ labels, value: Number(match[2]) });
  }
  return samples;
}

function fsyncP99Ms(metrics: HttpResponse | undefined): number | undefined {
  if (metrics?.status !== 200) return undefined;
  for (const name of FSYNC) {
    const seconds = histogramQuantile(metrics.body, name, 0.99);
    if (seconds !== undefined) return seconds * 1000;
  }
  return undefined;
}

function firstOf(metrics: Map<string, number>, names: readonly string[]): number | undefined {
  for (const name of names) if (metrics.has(name)) return metrics.get(name);
  return undefined;
}

function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function numberHeader(response: HttpResponse, name: string): number | undefined {
  const value = Number(header(response, name));
  return header(response, name) === undefined || !Number.isFinite(value) ? undefined : value;
}

function json(response: HttpResponse | undefined): Record<string, unknown> | undefined {
  if (response === undefined || response.status !== 200) return undefined;
  try {
    return JSON.parse(response.body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Asks one endpoint for its health, identity, raft position, version and metrics, in parallel.
 * Never throws: a member that does not answer is reported unhealthy with the reason.
 */
export async function probeEndpoint(transport: HttpTransport, endpoint: string): Promise<MemberStatus> {
  const get = (path: string): Promise<HttpResponse | undefined> => transport.request({ method: 'GET', path, idempotent: true }).catch(() => undefined);
  const probedAt = Date.now();
  try {
    const started = performance.now();
    const health = await transport.request({ method: 'GET', path: '/health', idempotent: true }).catch((error: Error) => error);
    const latencyMs = Math.round((performance.now() - started) * 100) / 100;
    if (health instanceof Error) return { endpoint, healthy: false, error: health.message.replace(/^no endpoint answered \((.*)\)$/, '$1'), probedAt };
    const [self, version, keys] = await Promise.all([get('/v2/stats/self'), get('/version'), get('/v2/keys/')]);
    // Last, once the probe's other requests are answered: every probe's counters then include
    // the same requests of the monitor's own, which the request rates leave out.
    const metrics = await get('/metrics');
    const notV2 = keys && checkV2Api(keys);
    if (notV2) return { endpoint, healthy: false, error: notV2, latencyMs, probedAt };
    const healthBody = json(health);
    const healthy = health.status === 200 && (healthBody?.health === 'true' || healthBody?.health === true);
    const selfBody = json(self);
    const versionBody = json(version);
    const counters = metrics?.status === 200 ? parseMetrics(metrics.body) : new Map<string, number>();
    const leaderInfo = selfBody?.leaderInfo as { leader?: string } | undefined;
    const state = selfBody?.state;
    return {
      endpoint,
      healthy,
      ...(healthy ? {} : { error: `unhealthy (${health.status}: ${health.body.trim().slice(0, 80)})` }),
      ...(typeof selfBody?.id === 'string' ? { id: selfBody.id } : {}),
      ...(typeof selfBody?.name === 'string' ? { name: selfBody.name } : {}),
      ...optional('startedAt', typeof selfBody?.startTime === 'string' && Number.isFinite(Date.parse(selfBody.startTime)) ? Date.parse(selfBody.startTime) : undefined),
      ...(typeof state === 'string' ? { isLeader: state === 'StateLeader' } : {}),
      ...(leaderInfo?.leader ? { leaderId: leaderInfo.leader } : {}),
      ...(keys && header(keys, 'x-etcd-cluster-id') ? { clusterId: header(keys, 'x-etcd-cluster-id')! } : {}),
      ...optional('raftTerm', keys && numberHeader(keys, 'x-raft-term')),
      ...optional('raftIndex', keys && numberHeader(keys, 'x-raft-index')),
      ...optional('etcdIndex', keys && numberHeader(keys, 'x-etcd-index')),
      ...optional('commitIndex', firstOf(counters, COMMIT)),
      ...optional('appliedIndex', firstOf(counters, APPLIED)),
      // kvd reports its own version beside the etcd API version it speaks.
      ...(typeof versionBody?.kvd === 'string' ? { serverVersion: `kvd ${versionBody.kvd}` } : typeof versionBody?.etcdserver === 'string' ? { serverVersion: versionBody.etcdserver } : {}),
      ...(typeof versionBody?.etcdcluster === 'string' ? { clusterVersion: versionBody.etcdcluster } : {}),
      latencyMs,
      ...optional('keys', firstOf(counters, KEYS)),
      ...optional('requestsTotal', firstOf(counters, REQUESTS)),
      ...optional('proposalsTotal', firstOf(counters, PROPOSALS)),
      ...optional('pendingProposals', firstOf(counters, PENDING)),
      ...optional('watchers', firstOf(counters, WATCHERS)),
      ...optional('leaderChanges', firstOf(counters, LEADER_CHANGES)),
      ...optional('fsyncP99Ms', fsyncP99Ms(metrics)),
      probedAt,
    };
  } catch (error) {
    return { endpoint, healthy: false, error: (error as Error).message, probedAt };
  }
}

/**
 * Asks a kvd member for its /metrics alone, which holds everything the live view shows (one
 * request per member per refresh, which kvd leaves out of the request counts it reports).
 * Undefined when the answer is not kvd's (etcd, an older kvd): then probeEndpoint asks the rest.
 */
export async function probeMetrics(transport: HttpTransport, endpoint: string): Promise<MemberStatus | undefined> {
  const probedAt = Date.now();
  const started = performance.now();
  const response = await transport.request({ method: 'GET', path: '/metrics', idempotent: true }).catch((error: Error) => error);
  const latencyMs = Math.round((performance.now() - started) * 100) / 100;
  if (response instanceof Error) return { endpoint, healthy: false, error: response.message.replace(/^no endpoint answered \((.*)\)$/, '$1'), probedAt };
  const info = response.status === 200 ? metricSamples(response.body, MEMBER_INFO)[0]?.labels : undefined;
  if (info === undefined) return undefined;
  const values = parseMetrics(response.body);
  const healthy = values.get('kvd_has_leader') === 1;
  const processStart = values.get('process_start_time_seconds');
  const roundTrips = metricSamples(response.body, 'kvd_peer_round_trip_seconds').flatMap(({ labels, value }) => (labels.has('to') && Number.isFinite(value) ? [[labels.get('to')!, value * 1000] as const] : []));
  return {
    endpoint,
    healthy,
    ...(healthy ? {} : { error: 'unhealthy (no leader)' }),
    ...(info.get('id') ? { id: info.get('id')! } : {}),
    ...(info.get('name') !== undefined ? { name: info.get('name')! } : {}),
    ...(info.get('cluster_id') ? { clusterId: info.get('cluster_id')! } : {}),
    ...(info.get('version') ? { serverVersion: `kvd ${info.get('version')!}` } : {}),
    isLeader: values.get('kvd_is_leader') === 1,
    ...optional('raftTerm', values.get('kvd_raft_term')),
    ...optional('raftIndex', values.get('kvd_raft_applied_index')),
    ...optional('commitIndex', values.get('kvd_raft_commit_index')),
    ...optional('appliedIndex', values.get('kvd_raft_applied_index')),
    latencyMs,
    ...optional('keys', values.get('kvd_store_keys')),
    ...optional('requestsTotal', values.get('kvd_http_requests_total')),
    ...optional('proposalsTotal', values.get('kvd_proposals_committed_total')),
    ...optional('pendingProposals', values.get('kvd_proposals_pending')),
    ...optional('watchers', values.get('kvd_watchers')),
    ...optional('leaderChanges', values.get('kvd_leader_changes_total')),
    ...optional('fsyncP99Ms', fsyncP99Ms(response)),
    ...optional('startedAt', processStart === undefined ? undefined : processStart * 1000),
    ...optional('dataSizeBytes', values.get('kvd_data_dir_size_bytes')),
    followerLatencyMs: Object.fromEntries(roundTrips),
    probedAt,
  };
}

function optional<K extends string>(name: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [name]: value } as Record<K, number>);
}

/** A member of the cluster as the status view shows it: what it said, and what follows from it. */
export interface MemberRow {
  readonly name: string;
  readonly id?: string;
  readonly endpoint?: string;
  readonly isLearner: boolean;
  /** Undefined for a member that was added but has not started (it has no client URL yet). */
  readonly status?: MemberStatus;
  readonly isLeader: boolean;
  /** Entries the leader has committed that this member has not applied. */
  readonly lag?: number;
  readonly requestsPerSecond?: number;
  readonly proposalsPerSecond?: number;
  /** The leader's last round trip to this member, from the leader's /v2/stats/leader (ms). */
  readonly leaderLatencyMs?: number;
}

export interface ClusterSnapshot {
  readonly at: number;
  readonly clusterId?: string;
  readonly leader?: MemberRow;
  readonly term?: number;
  readonly keys?: number;
  readonly rows: readonly MemberRow[];
  /** Set when the member list could not be read from any endpoint (the rows are the last known). */
  readonly problem?: string;
}

interface KnownMember {
  readonly id?: string;
  readonly name: string;
  readonly endpoint?: string;
  readonly isLearner: boolean;
}

/** A counter's rate per second between two probes, leaving out `own` increments (the monitor's own requests). */
function rate(now: number | undefined, before: MemberStatus | undefined, field: 'requestsTotal' | 'proposalsTotal', at: number, own = 0): number | undefined {
  const then = before?.[field];
  if (now === undefined || then === undefined || before === undefined || at <= before.probedAt || now < then) return undefined;
  return Math.max(0, now - then - own) / ((at - before.probedAt) / 1000);
}

/**
 * Polls a cluster: the member list from any endpoint that answers, then every member in parallel.
 * Members that stop answering stay in the view as down; it never throws.
 */
export class ClusterMonitor {
  private readonly transport: HttpTransport;
  private readonly direct = new Map<string, HttpTransport>();
  /** Transports for /metrics alone: kvd does not count these requests, so they are not the monitor's own. */
  private readonly scrapers = new Map<string, HttpTransport>();
  /** Endpoints whose /metrics is not kvd's: probed with etcd's requests. */
  private readonly notKvd = new Set<string>();
  private readonly members: MembersClient;
  private readonly timeoutMs: number;
  private known: KnownMember[];
  private previous = new Map<string, MemberStatus>();
  /** The requests this monitor had sent to each member when it last probed it. */
  private ownBefore = new Map<string, number>();

  constructor(transport: HttpTransport, seeds: readonly string[], timeoutMs: number) {
    this.transport = transport;
    this.members = new MembersClient(transport, timeoutMs);
    this.timeoutMs = timeoutMs;
    this.known = seeds.map((endpoint) => ({ name: endpoint, endpoint, isLearner: false }));
  }

  async poll(): Promise<ClusterSnapshot> {
    let problem: string | undefined;
    try {
      const list = await this.members.list();
      this.known = list.map((m) => ({ id: m.id, name: m.name || '(not started)', ...(m.clientURLs[0] ? { endpoint: m.clientURLs[0] } : {}), isLearner: m.isLearner === true }));
    } catch (error) {
      problem = `no endpoint listed the members (${(error as Error).message}); showing the last known`;
    }
    // A member counts the monitor's own polls among its requests: the figures leave them out.
    const ownNow = new Map(this.known.flatMap((m) => (m.endpoint === undefined ? [] : [[m.endpoint, this.transport.sentTo(m.endpoint) + this.directTo(m.endpoint).sentTo(m.endpoint)] as const])));
    const statuses = await Promise.all(this.known.map((m) => (m.endpoint === undefined ? undefined : this.probe(m.endpoint))));
    const at = Date.now();
    const leaderId = statuses.find((s) => s?.isLeader)?.id ?? statuses.find((s) => s?.leaderId)?.leaderId;
    const leaderIndex = leaderId === undefined ? -1 : this.known.findIndex((m, i) => (m.id ?? statuses[i]?.id) === leaderId);
    const leaderStatus = leaderIndex >= 0 ? statuses[leaderIndex] : undefined;
    const latencies = leaderStatus?.healthy ? (leaderStatus.followerLatencyMs ? new Map(Object.entries(leaderStatus.followerLatencyMs)) : await this.followerLatencies(leaderStatus.endpoint)) : new Map<string, number>();
    const rows: MemberRow[] = this.known.map((m, i) => {
      const status = statuses[i];
      const id = m.id ?? status?.id;
      const leaderCommit = leaderStatus?.commitIndex ?? leaderStatus?.raftIndex;
      const applied = status?.appliedIndex ?? status?.raftIndex;
      const reachable = status !== undefined && status.error === undefined;
      const own = m.endpoint === undefined ? 0 : (ownNow.get(m.endpoint) ?? 0) - (this.ownBefore.get(m.endpoint) ?? 0);
      const requests = rate(status?.requestsTotal, status && this.previous.get(status.endpoint), 'requestsTotal', status?.probedAt ?? at, own);
      const proposals = rate(status?.proposalsTotal, status && this.previous.get(status.endpoint), 'proposalsTotal', status?.probedAt ?? at);
      return {
        name: status?.name || m.name,
        ...(id !== undefined ? { id } : {}),
        ...(m.endpoint !== undefined ? { endpoint: m.endpoint } : {}),
        isLearner: m.isLearner,
        ...(status !== undefined ? { status } : {}),
        isLeader: id !== undefined && id === leaderId,
        ...(reachable && leaderCommit !== undefined && applied !== undefined ? { lag: Math.max(0, leaderCommit - applied) } : {}),
        ...(requests !== undefined ? { requestsPerSecond: requests } : {}),
        ...(proposals !== undefined ? { proposalsPerSecond: proposals } : {}),
        ...(id !== undefined && latencies.has(id) ? { leaderLatencyMs: latencies.get(id)! } : {}),
      };
    });
    this.previous = new Map(statuses.filter((s): s is MemberStatus => s !== undefined && s.error === undefined).map((s) => [s.endpoint, s]));
    this.ownBefore = ownNow;
    const leader = rows.find((r) => r.isLeader);
    const answered = statuses.filter((s): s is MemberStatus => s !== undefined && s.error === undefined);
    const clusterId = answered.find((s) => s.clusterId)?.clusterId;
    const term = Math.max(...answered.map((s) => s.raftTerm ?? 0));
    const keys = leaderStatus?.keys ?? answered.find((s) => s.keys !== undefined)?.keys;
    return {
      at,
      ...(clusterId !== undefined ? { clusterId } : {}),
      ...(leader !== undefined ? { leader } : {}),
      ...(term > 0 ? { term } : {}),
      ...(keys !== undefined ? { keys } : {}),
      rows,
      ...(problem !== undefined ? { problem } : {}),
    };
  }

  /**
   * A kvd member by its /metrics alone; any other server (etcd, an older kvd) by the requests etcd
   * answers, from the first answer on that was not kvd's until it stops answering.
   */
  private async probe(endpoint: string): Promise<MemberStatus> {
    if (!this.notKvd.has(endpoint)) {
      const status = await probeMetrics(this.transportTo(this.scrapers, endpoint), endpoint);
      if (status !== undefined) return status;
      this.notKvd.add(endpoint);
    }
    const status = await probeEndpoint(this.directTo(endpoint), endpoint);
    if (status.latencyMs === undefined) this.notKvd.delete(endpoint);
    return status;
  }

  /** A transport to one member alone, kept from poll to poll (its connections stay open). */
  private directTo(endpoint: string): HttpTransport {
    return this.transportTo(this.direct, endpoint);
  }

  private transportTo(kept: Map<string, HttpTransport>, endpoint: string): HttpTransport {
    let transport = kept.get(endpoint);
    if (transport === undefined) {
      transport = this.transport.single(endpoint, this.timeoutMs);
      kept.set(endpoint, transport);
    }
    return transport;
  }

  close(): void {
    for (const transport of [...this.direct.values(), ...this.scrapers.values()]) transport.close();
    this.direct.clear();
    this.scrapers.clear();
  }

  /** The leader's current round trip to each follower, by member id. */
  private async followerLatencies(endpoint: string): Promise<Map<string, number>> {
    try {
      const response = await this.directTo(endpoint).request({ method: 'GET', path: '/v2/stats/leader', idempotent: true });
      const body = json(response) as { followers?: Record<string, { latency?: { current?: number } }> } | undefined;
      return new Map(Object.entries(body?.followers ?? {}).flatMap(([id, f]) => (typeof f.latency?.current === 'number' ? [[id, f.latency.current] as const] : [])));
    } catch {
      return new Map();
    }
  }
}
