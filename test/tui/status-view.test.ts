import assert from 'node:assert/strict';
import { stripVTControlCharacters } from 'node:util';
import { Chalk } from 'chalk';
import { renderToString } from 'ink';
import { createElement as h } from 'react';
import type { ClusterSnapshot, MemberStatus } from '../../src/client/cluster-status.ts';
import { histogramQuantile, parseMetrics } from '../../src/client/cluster-status.ts';
import { clusterEvents, keepRecent, EVENTS_KEPT } from '../../src/tui/cluster-events.ts';
import { clusterRate, sparkline } from '../../src/tui/sparkline.ts';
import { columnsFor, formatSnapshot, quorumLine, size, widestCells } from '../../src/tui/status-table.ts';
import { StatusView } from '../../src/tui/StatusView.ts';

const up = (endpoint: string, id: string, name: string, extra: Partial<MemberStatus> = {}): MemberStatus => ({
  endpoint, healthy: true, id, name, raftTerm: 4, startedAt: -3 * 3600_000 - 5000, raftIndex: 120, commitIndex: 120, appliedIndex: 120, latencyMs: 1.25, serverVersion: '0.1.0', probedAt: 0, ...extra,
});

/** Three members: a leader, a follower that lags, and one that does not answer. */
const snapshot: ClusterSnapshot = {
  at: 0,
  clusterId: 'c0ffee0000000001',
  term: 4,
  keys: 1234,
  rows: [
    { name: 'm1', id: '0000000000000001', endpoint: 'http://127.0.0.1:2379', isLearner: false, isLeader: true, status: up('http://127.0.0.1:2379', '0000000000000001', 'm1', { isLeader: true, dataSizeBytes: 12_345_678 }), lag: 0, requestsPerSecond: 812.4, proposalsPerSecond: 401 },
    { name: 'm2', id: '0000000000000002', endpoint: 'http://127.0.0.1:2479', isLearner: false, isLeader: false, status: up('http://127.0.0.1:2479', '0000000000000002', 'm2', { appliedIndex: 20 }), lag: 100 + 1, leaderLatencyMs: 0.42 },
    { name: 'm3', id: '0000000000000003', endpoint: 'http://127.0.0.1:2579', isLearner: false, isLeader: false, status: { endpoint: 'http://127.0.0.1:2579', healthy: false, error: 'ECONNREFUSED', probedAt: 0 } },
  ],
};
const withLeader: ClusterSnapshot = { ...snapshot, leader: snapshot.rows[0]! };

describe('kvctl status: the view of a cluster', () => {
  it('renders a 3-member snapshot with a member that is down (colours stripped)', () => {
    const text = stripVTControlCharacters(renderToString(h(StatusView, { snapshot: withLeader, selected: 2, showHelp: false, width: 200, paint: new Chalk({ level: 3 }) }), { columns: 200 }));
    const lines = text.split('\n');
    assert.equal(lines[0], 'cluster c0ffee0000000001 · 2/3 up, can lose 0 · leader m1 (0000000000000001) · term 4 · 1234 keys');
    assert.match(lines[1]!, /^NAME +ID +CLIENT URL +HEALTH +ROLE +TERM +COMMIT +APPLIED +LAG +REQ\/S +PROP\/S +TO LEADER +UPTIME +DATA +FSYNC P99 +PENDING +WATCHERS +LEADER CHG$/);
    assert.match(lines[2]!, /^m1 +0000000000000001 +http:\/\/127\.0\.0\.1:2379 +up +leader +4 +120 +120 +0 +812 +401 +- +3h +12M( +-){4}$/);
    assert.match(lines[3]!, /^m2 .* up +follower +4 +120 +20 +101 +- +- +0\.42ms +3h( +-){5}$/);
    assert.match(lines[4]!, /^m3 +0000000000000003 +http:\/\/127\.0\.0\.1:2579 +down( +-){14}$/);
    assert.match(lines[5]!, /m3 · http:\/\/127\.0\.0\.1:2579 · ECONNREFUSED/, 'the selected member\'s details');
    assert.match(text, /q quit {2}↑\/↓ select {2}r refresh {2}\? help/);
  });

  it('colours health and leadership unless painting is off', () => {
    const coloured = renderToString(h(StatusView, { snapshot: withLeader, selected: 0, showHelp: false, width: 160, paint: new Chalk({ level: 1 }) }), { columns: 160 });
    assert.ok(coloured.includes('\u001b[32m') && coloured.includes('\u001b[31m'), 'green and red');
    const plain = renderToString(h(StatusView, { snapshot: withLeader, selected: 5, showHelp: false, width: 160, paint: new Chalk({ level: 0 }) }), { columns: 160 });
    for (let code = 30; code <= 37; code++) assert.ok(!plain.includes(`\u001b[${code}m`), `colour ${code} with painting off`);
  });

  it('writes data sizes in their largest unit, as du -h does', () => {
    assert.deepEqual([0, 512, 2048, 12_345_678, 3 * 2 ** 30].map(size), ['0B', '512B', '2.0K', '12M', '3.0G']);
    assert.equal(size(undefined), '-');
  });

  it('drops the least important columns on a narrow terminal, never the essential ones', () => {
    const headers = (width: number) => columnsFor(snapshot.rows, width).map((c) => c.column.header);
    assert.deepEqual(headers(260).length, 18);
    const narrow = headers(60);
    for (const essential of ['NAME', 'HEALTH', 'ROLE', 'LAG']) assert.ok(narrow.includes(essential), `${essential} in ${narrow.join(',')}`);
    assert.ok(!narrow.includes('ID') && !narrow.includes('CLIENT URL'));
    for (const line of formatSnapshot(snapshot, 60).slice(1)) assert.ok(line.length <= 60, `${line.length}: ${line}`);
  });

  it('says so when there is no leader and before the first answer', () => {
    assert.match(formatSnapshot(snapshot)[0]!, /no leader/);
    const waiting = stripVTControlCharacters(renderToString(h(StatusView, { snapshot: undefined, selected: 0, showHelp: true, width: 80, paint: new Chalk({ level: 0 }) })));
    assert.match(waiting, /asking the cluster/);
  });

  it('the help explains the columns', () => {
    const text = stripVTControlCharacters(renderToString(h(StatusView, { snapshot: withLeader, selected: 0, showHelp: true, width: 160, paint: new Chalk({ level: 0 }) }), { columns: 160 }));
    assert.match(text, /LAG +entries committed by the leader/);
  });

  it('parses Prometheus text, summing label sets', () => {
    const metrics = parseMetrics('# HELP x y\n# TYPE kvd_http_requests_total counter\nkvd_http_requests_total{method="GET",code="200"} 5\nkvd_http_requests_total{method="PUT",code="201"} 7\nkvd_raft_term 3\n');
    assert.equal(metrics.get('kvd_http_requests_total'), 12);
    assert.equal(metrics.get('kvd_raft_term'), 3);
  });

  it('the quorum line says how many members can be lost, or that there is no quorum', () => {
    const allUp: ClusterSnapshot = { ...snapshot, rows: [snapshot.rows[0]!, snapshot.rows[1]!, { ...snapshot.rows[1]!, name: 'm3', id: '3' }] };
    assert.equal(quorumLine(allUp), '3/3 up, can lose 1');
    assert.equal(quorumLine(snapshot), '2/3 up, can lose 0');
    const oneUp: ClusterSnapshot = { ...snapshot, rows: [snapshot.rows[0]!, snapshot.rows[2]!, { ...snapshot.rows[2]!, name: 'm2', id: '2' }] };
    assert.equal(quorumLine(oneUp), '1/3 up, no quorum (a write needs 2)');
  });

  it('events between polls: a member down, an election, a new leader; the view lists them with their times', () => {
    const before: ClusterSnapshot = { ...withLeader, at: Date.UTC(2026, 0, 1, 10, 0, 0), rows: [withLeader.rows[0]!, withLeader.rows[1]!, { ...withLeader.rows[1]!, name: 'm3', id: '0000000000000003', isLeader: false }] };
    const after: ClusterSnapshot = { ...withLeader, at: Date.UTC(2026, 0, 1, 10, 0, 5), term: 5, leader: withLeader.rows[1]! };
    const events = clusterEvents(before, after);
    assert.deepEqual(events.map((e) => e.text), ['m3 down (ECONNREFUSED)', 'election: term 4 → 5', 'leader m2 (was m1)']);
    assert.deepEqual(clusterEvents(after, after), [], 'nothing changed');
    assert.deepEqual(clusterEvents(undefined, after), [], 'the first poll has nothing to compare with');
    const many = Array.from({ length: 20 }, (_, i) => ({ at: i, text: `e${i}` }));
    assert.deepEqual(keepRecent([], many).map((e) => e.text), many.slice(-EVENTS_KEPT).map((e) => e.text));
    const text = stripVTControlCharacters(renderToString(h(StatusView, { snapshot: after, events, selected: 0, showHelp: false, width: 200, paint: new Chalk({ level: 0 }) }), { columns: 200 }));
    assert.match(text, /^m3 .* down( +-)+$/m, 'the member that is down, its figures cleared');
    const time = (at: number) => new Date(at).toTimeString().slice(0, 8);
    assert.ok(text.includes(`recent events\n${time(after.at)}  m3 down (ECONNREFUSED)\n${time(after.at)}  election: term 4 → 5\n${time(after.at)}  leader m2 (was m1)\n`), text);
  });

  it('reads the 99th percentile of a Prometheus histogram from its buckets', () => {
    const text = ['kvd_disk_fsync_duration_seconds_bucket{le="0.001"} 90', 'kvd_disk_fsync_duration_seconds_bucket{le="0.004"} 98', 'kvd_disk_fsync_duration_seconds_bucket{le="0.016"} 100', 'kvd_disk_fsync_duration_seconds_bucket{le="+Inf"} 100', 'kvd_disk_fsync_duration_seconds_count 100'].join('\n');
    assert.equal(histogramQuantile(text, 'kvd_disk_fsync_duration_seconds', 0.99), 0.016);
    assert.equal(histogramQuantile(text, 'kvd_disk_fsync_duration_seconds', 0.5), 0.001);
    assert.equal(histogramQuantile('', 'kvd_disk_fsync_duration_seconds', 0.99), undefined);
  });

  it('the live view keeps its columns in place when a member goes down', () => {
    const allUp: ClusterSnapshot = { ...withLeader, rows: [withLeader.rows[0]!, withLeader.rows[1]!, { ...withLeader.rows[1]!, name: 'm3', id: '0000000000000003', requestsPerSecond: 123456, lag: 123456 }] };
    const render = (shown: ClusterSnapshot, widths?: ReadonlyMap<string, number>) =>
      stripVTControlCharacters(renderToString(h(StatusView, { snapshot: shown, selected: 0, showHelp: false, width: 200, paint: new Chalk({ level: 0 }), ...(widths ? { widths } : {}) }), { columns: 200 })).split('\n');
    const widths = widestCells(widestCells(new Map(), allUp.rows), withLeader.rows);
    assert.notEqual(render(allUp)[1], render(withLeader)[1], 'without the widths seen, the header moves');
    assert.equal(render(allUp, widths)[1], render(withLeader, widths)[1], 'with them, it stays');
    assert.equal(render(allUp, widths)[2], render(withLeader, widths)[2], 'and so does the leader\'s row');
  });

  it('a sparkline of the cluster\'s request rate, the latest figure beside it', () => {
    assert.equal(sparkline([0, 1, 2, 4, 8]), '▁▁▂▄█');
    assert.equal(sparkline([0, 0]), '▁▁');
    assert.equal(sparkline([]), '');
    assert.equal(clusterRate([10, undefined, 2.5]), 12.5);
    assert.equal(clusterRate([undefined]), undefined);
    const text = stripVTControlCharacters(renderToString(h(StatusView, { snapshot: withLeader, rates: [100, 400, 800], selected: 0, showHelp: false, width: 200, paint: new Chalk({ level: 0 }) }), { columns: 200 }));
    assert.match(text, /\nrequests\/s ▁▄█ 800\n/);
  });
});
