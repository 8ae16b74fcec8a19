import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { metricSamples, parseMetrics } from '../../src/client/cluster-status.ts';
import type { Member } from '../../src/server/member.ts';
import { Metrics } from '../../src/server/metrics.ts';
import { waitUntil } from '../helpers/trees.ts';

/** A full collection now (mocha runs without --expose-gc: the flag is set, then gc taken from a fresh context). */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/** The parts of a member that /metrics reads: a leader of three that has heard from one follower. */
function fakeMember(dataDir: string): Member {
  const fake = {
    id: 0x1a, clusterId: 0xc1, name: 'm "one"', dataDir, leader: 0x1a, isLeader: true,
    isMember: (id: number) => id === 0x1a || id === 0x2b || id === 0x3c,
    transport: { peerStats: new Map([[0x2b, { success: 3, fail: 0, current: 1.5, minimum: 1, maximum: 2, sum: 4.5, sumOfSquares: 7 }], [0x3c, { success: 0, fail: 2, current: 0, minimum: Infinity, maximum: 0, sum: 0, sumOfSquares: 0 }]]) },
    counters: { proposalsCommitted: 0, proposalsFailed: 0, leaderChanges: 1 }, pendingProposals: 0, commitIndex: 5, raftIndex: 5, term: 2,
    store: { hub: { count: 0 }, countKeys: () => 0 }, fsyncMillis: [],
  };
  // Only what render() reads: a whole Member needs a data dir and a cluster.
  return fake as unknown as Member;
}

describe('/metrics (what kvctl status reads in one request)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-metrics-'));
    await writeFile(path.join(dir, '000005.ldb'), Buffer.alloc(1000));
    await writeFile(path.join(dir, 'LOG'), Buffer.alloc(234));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('names the member: id, name (escaped), cluster id and version, as an info gauge', () => {
    const text = new Metrics(fakeMember(dir)).render();
    const [info] = metricSamples(text, 'kvd_member_info');
    assert.deepEqual(Object.fromEntries(info!.labels), { id: '1a', name: 'm "one"', cluster_id: 'c1', version: info!.labels.get('version') });
    assert.match(text, /^kvd_member_info\{id="1a",name="m \\"one\\"",/m);
    assert.equal(info!.value, 1);
  });

  it('says when the process started, as Prometheus names it', () => {
    const started = parseMetrics(new Metrics(fakeMember(dir)).render()).get('process_start_time_seconds')!;
    const now = Date.now() / 1000;
    assert.ok(started <= now && started >= now - process.uptime() - 1, `${started} vs now ${now}, up ${process.uptime()} s`);
  });

  it('measures the data dir\'s files in the background: a scrape never waits for the disk', async () => {
    const metrics = new Metrics(fakeMember(dir));
    const sizeNow = () => parseMetrics(metrics.render()).get('kvd_data_dir_size_bytes');
    await waitUntil('the data dir measured', () => sizeNow() === 1234);
  });

  it('leaves requests to /health and /metrics out of kvd_http_requests_total', () => {
    const metrics = new Metrics(fakeMember(dir));
    metrics.request('GET', 200, '/health');
    metrics.request('GET', 200, '/metrics');
    metrics.request('GET', 200, '/metrics?x=1');
    metrics.request('GET', 200, '/v2/keys/a');
    metrics.request('PUT', 201, '/v2/keys/a?value=1');
    assert.equal(parseMetrics(metrics.render()).get('kvd_http_requests_total'), 2);
  });

  it('says whether there is a leader, and on the leader the round trip to each follower it has heard from', () => {
    const text = new Metrics(fakeMember(dir)).render();
    assert.equal(parseMetrics(text).get('kvd_has_leader'), 1);
    assert.deepEqual(metricSamples(text, 'kvd_peer_round_trip_seconds').map((s) => [s.labels.get('to'), s.value]), [['2b', 0.0015]]);
  });

  it('counts garbage-collector pauses by kind in a cumulative histogram, from the first scrape on', async () => {
    const metrics = new Metrics(fakeMember(dir));
    assert.match(metrics.render(), /^# TYPE kvd_gc_pause_seconds histogram$/m);
    collectGarbage();
    // The observer hears of the pause after the collection, in a later task.
    const majors = () => metricSamples(metrics.render(), 'kvd_gc_pause_seconds_count').filter((s) => s.labels.get('kind') === 'major');
    await waitUntil('the forced full collection in the histogram', () => majors().length > 0);
    const [major] = majors();
    assert.ok(major!.value >= 1, 'the forced full collection is counted');
    const text = metrics.render();
    const buckets = metricSamples(text, 'kvd_gc_pause_seconds_bucket').filter((s) => s.labels.get('kind') === 'major');
    const counts = buckets.map((b) => b.value);
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'buckets are cumulative');
    assert.equal(buckets.at(-1)!.labels.get('le'), '+Inf');
    assert.equal(counts.at(-1), major!.value);
    const [sum] = metricSamples(text, 'kvd_gc_pause_seconds_sum').filter((s) => s.labels.get('kind') === 'major');
    assert.ok(sum!.value > 0);
  });

  it('shows the resident memory of the process, as Prometheus\' process collector names it', () => {
    const rss = parseMetrics(new Metrics(fakeMember(dir)).render()).get('process_resident_memory_bytes')!;
    assert.ok(rss > 10 * 2 ** 20 && rss < 2 ** 40, `${rss}`);
  });
});
