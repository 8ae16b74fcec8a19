import { constants, monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { VERSION } from '../api/version.ts';
import { DataDirSize } from './data-dir-size.ts';
import type { Member } from './member.ts';
import { formatId } from './member-id.ts';

const FSYNC_BUCKETS_MS = [0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** How often the event loop's delay is sampled. */
const LOOP_SAMPLE_MS = 10;
const LOOP_QUANTILES = [0.5, 0.9, 0.99];
/** Upper bounds (ms) of the garbage collector's pause buckets: a scavenge takes ~1 ms, a full mark-compact of a big heap hundreds. */
const GC_BUCKETS_MS = [0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
/** The kinds of collection, as perf_hooks reports them, by the label /metrics gives them. */
const GC_KINDS: ReadonlyArray<[number, string]> = [
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
];
/** Requests of monitors: left out of kvd_http_requests_total, which then shows what clients do. */
const MONITORING_PATHS = new Set(['/health', '/metrics']);
/** When this process started (seconds since the epoch), as Prometheus' process collectors say it. */
const PROCESS_START_SECONDS = Math.round(performance.timeOrigin) / 1000;

/** A label value in the exposition format: backslash, double quote and newline escaped. */
function labelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Writes one metric: its HELP and TYPE lines and its samples (labels, value). */
type MetricWriter = (name: string, type: string, help: string, samples: Array<[string, number]>) => void;

/** Prometheus text metrics (exposition format 0.0.4) for /metrics. */
export class Metrics {
  private readonly member: Member;
  private readonly dataDirSize: DataDirSize;
  private readonly requests = new Map<string, number>();
  private slowStreamsEnded = 0;
  /**
   * The intervals between samples (ns) since the last scrape; an interval past the sampling
   * period is how long the loop was held (a long synchronous task delays heartbeats as much).
   */
  private readonly loopIntervals = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  private loopDelaySeconds = 0;
  private loopSamples = 0;
  private readonly gcPauses = new GcPauses();

  constructor(member: Member) {
    this.member = member;
    this.dataDirSize = new DataDirSize(member.dataDir);
    this.loopIntervals.enable();
  }

  /** A client request answered; `url` (path and query) leaves out the monitors' own. */
  request(method: string, code: number, url = ''): void {
    if (MONITORING_PATHS.has(url.split('?')[0]!)) return;
    const key = `method="${method}",code="${code}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  /** A watch stream was ended because its client fell too far behind. */
  slowStreamEnded(): void {
    this.slowStreamsEnded++;
  }

  render(): string {
    const m = this.member;
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Array<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels === '' ? '' : `{${labels}}`} ${value}`);
    };
    const info = `id="${formatId(m.id)}",name="${labelValue(m.name)}",cluster_id="${formatId(m.clusterId)}",version="${VERSION}"`;
    metric('kvd_member_info', 'gauge', 'This member: its id, name, cluster id and kvd version (always 1).', [[info, 1]]);
    metric('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', [['', PROCESS_START_SECONDS]]);
    metric('kvd_data_dir_size_bytes', 'gauge', 'Bytes of the files in the data dir (measured at most every few seconds).', [['', this.dataDirSize.current]]);
    metric('kvd_has_leader', 'gauge', '1 if this member knows a leader (what /health answers).', [['', m.leader !== 0 ? 1 : 0]]);
    metric('kvd_peer_round_trip_seconds', 'gauge', 'On the leader: the last heartbeat round trip to each follower.', this.roundTrips());
    metric('kvd_http_requests_total', 'counter', 'Client requests by method and status code (not /health and /metrics).', [...this.requests]);
    metric('kvd_proposals_committed_total', 'counter', 'Keys proposals applied on this member.', [['', m.counters.proposalsCommitted]]);
    metric('kvd_proposals_failed_total', 'counter', 'Keys proposals that timed out.', [['', m.counters.proposalsFailed]]);
    metric('kvd_proposals_pending', 'gauge', 'Keys proposals waiting to be applied.', [['', m.pendingProposals]]);
    metric('kvd_apply_lag', 'gauge', 'Committed entries not yet applied.', [['', Math.max(0, m.commitIndex - m.raftIndex)]]);
    metric('kvd_leader_changes_total', 'counter', 'Leader changes seen.', [['', m.counters.leaderChanges]]);
    metric('kvd_is_leader', 'gauge', '1 if this member leads.', [['', m.isLeader ? 1 : 0]]);
    metric('kvd_watchers', 'gauge', 'Registered watchers.', [['', m.store.hub.count]]);
    metric('kvd_watch_streams_slow_ended_total', 'counter', 'Watch streams ended because their client fell too far behind.', [['', this.slowStreamsEnded]]);
    metric('kvd_raft_term', 'gauge', 'Raft term.', [['', m.term]]);
    metric('kvd_raft_applied_index', 'gauge', 'Last applied Raft index.', [['', m.raftIndex]]);
    metric('kvd_raft_commit_index', 'gauge', 'Last committed Raft index known to this member.', [['', m.commitIndex]]);
    metric('kvd_store_keys', 'gauge', 'Keys (files) in the store.', [['', m.store.countKeys()]]);
    const counts = FSYNC_BUCKETS_MS.map((le) => m.fsyncMillis.filter((ms) => ms <= le).length);
    const sum = m.fsyncMillis.reduce((a, b) => a + b, 0) / 1000;
    metric('kvd_disk_fsync_duration_seconds_bucket', 'histogram', 'Synced write durations (recent window).', [
      ...FSYNC_BUCKETS_MS.map((le, i) => [`le="${le / 1000}"`, counts[i]!] as [string, number]),
      ['le="+Inf"', m.fsyncMillis.length],
    ]);
    lines.push(`kvd_disk_fsync_duration_seconds_sum ${sum}`, `kvd_disk_fsync_duration_seconds_count ${m.fsyncMillis.length}`);
    this.renderLoopDelay(metric, lines);
    this.gcPauses.render(metric, lines);
    metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [['', process.memoryUsage.rss()]]);
    return `${lines.join('\n')}\n`;
  }

  /** The leader's last round trip to each follower it has heard from; none on a follower. */
  private roundTrips(): Array<[string, number]> {
    const m = this.member;
    if (!m.isLeader) return [];
    return [...m.transport.peerStats].filter(([id, s]) => id !== m.id && m.isMember(id) && s.success > 0).map(([id, s]) => [`to="${formatId(id)}"`, s.current / 1000]);
  }

  /**
   * The event loop's delays since the previous scrape: the longest as a gauge, and a summary whose
   * quantiles cover the same window (its sum and count run on across scrapes). The window then
   * starts again: every scraper of a member shares it.
   */
  private renderLoopDelay(metric: MetricWriter, lines: string[]): void {
    const intervals = this.loopIntervals;
    const delay = (nanoseconds: number): number => (intervals.count === 0 ? 0 : Math.max(0, nanoseconds - LOOP_SAMPLE_MS * 1e6) / 1e9);
    this.loopSamples += intervals.count;
    this.loopDelaySeconds += delay(intervals.mean) * intervals.count;
    metric('kvd_event_loop_delay_max_seconds', 'gauge', 'The longest event-loop delay since the previous scrape.', [['', delay(intervals.max)]]);
    metric('kvd_event_loop_delay_seconds', 'summary', `Event-loop delays sampled every ${LOOP_SAMPLE_MS} ms; quantiles since the previous scrape.`, LOOP_QUANTILES.map((q) => [`quantile="${q}"`, delay(intervals.percentile(q * 100))]));
    lines.push(`kvd_event_loop_delay_seconds_sum ${this.loopDelaySeconds}`, `kvd_event_loop_delay_seconds_count ${this.loopSamples}`);
    intervals.reset();
  }
}

/**
 * The garbage collector's pauses since the process started, by kind of collection: a cumulative
 * histogram, as Prometheus wants one. A pause holds the event loop as long as it lasts, so this
 * is what to read next to kvd_event_loop_delay_seconds when request tails grow.
 */
class GcPauses {
  /** Per kind: how many pauses fell in each bucket (the last one is +Inf), and their sum (ms). */
  private readonly byKind = new Map<string, { buckets: number[]; sumMs: number }>();

  constructor() {
    // Pause entries come in batches after the collection, never during a request.
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.add(entry);
    }).observe({ entryTypes: ['gc'] });
  }

  private add(entry: PerformanceEntry): void {
    const flags = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
    const kind = GC_KINDS.find(([flag]) => flag === flags)?.[1] ?? 'other';
    let pauses = this.byKind.get(kind);
    if (pauses === undefined) {
      pauses = { buckets: new Array<number>(GC_BUCKETS_MS.length + 1).fill(0), sumMs: 0 };
      this.byKind.set(kind, pauses);
    }
    const bucket = GC_BUCKETS_MS.findIndex((le) => entry.duration <= le);
    pauses.buckets[bucket < 0 ? GC_BUCKETS_MS.length : bucket]!++;
    pauses.sumMs += entry.duration;
  }

  render(metric: MetricWriter, lines: string[]): void {
    metric('kvd_gc_pause_seconds', 'histogram', 'Garbage-collector pauses by kind of collection, since the process started.', []);
    for (const [kind, { buckets, sumMs }] of this.byKind) {
      let cumulative = 0;
      GC_BUCKETS_MS.forEach((le, i) => lines.push(`kvd_gc_pause_seconds_bucket{kind="${kind}",le="${le / 1000}"} ${(cumulative += buckets[i]!)}`));
      cumulative += buckets[GC_BUCKETS_MS.length]!;
      lines.push(`kvd_gc_pause_seconds_bucket{kind="${kind}",le="+Inf"} ${cumulative}`, `kvd_gc_pause_seconds_sum{kind="${kind}"} ${sumMs / 1000}`, `kvd_gc_pause_seconds_count{kind="${kind}"} ${cumulative}`);
    }
  }
}
