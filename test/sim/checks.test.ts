import assert from 'node:assert/strict';
import type { StoreEvent } from '../../src/store/event.ts';
import { AppliedLog } from './applied-log.ts';
import type { RunRecord } from './checks.ts';
import { checkRun } from './checks.ts';
import type { Op } from './history.ts';
import type { WatchRecord } from './sim-clients.ts';

function set(key: string, value: string, index: number): StoreEvent {
  return { action: 'set', node: { key, value, modifiedIndex: index, createdIndex: index } };
}

function run(applied: AppliedLog, ops: Op[] = [], watches: WatchRecord[] = []): RunRecord {
  return { ops, watches, applied, registerKeys: ['/r0'], maxSkewMs: 0, endedAt: 10_000 };
}

describe('cluster simulation: the checks of a run', () => {
  it('passes a run where members agree and clients saw what was applied', () => {
    const applied = new AppliedLog();
    for (const member of ['m1', 'm2']) for (const [i, v] of [[5, 'a'], [6, 'b']] as const) applied.record(member, set('/r0', v, i), i);
    const ops: Op[] = [{ id: 0, client: 'c', member: 'm1', kind: 'set', key: '/r0', invoke: 0, complete: 10, outcome: 'ok', value: 'b', index: 6 }];
    const watches: WatchRecord[] = [{ name: 'w', key: '/r0', events: [5, 6].map((i) => ({ index: i, text: JSON.stringify(set('/r0', i === 5 ? 'a' : 'b', i)), at: i })), skipped: [], next: 7 }];
    assert.deepEqual(checkRun(run(applied, ops, watches)), []);
  });

  it('fails members that applied different events at one index', () => {
    const applied = new AppliedLog();
    applied.record('m1', set('/r0', 'a', 5), 0);
    applied.record('m2', set('/r0', 'b', 5), 0);
    assert.match(checkRun(run(applied)).join('\n'), /members applied different events: store index 5/);
  });

  it('fails a request applied twice, and an acknowledged write that was not applied as answered', () => {
    const applied = new AppliedLog();
    applied.record('m1', set('/r0', 'a', 5), 0);
    applied.record('m1', set('/r0', 'a', 7), 0);
    const lost: Op = { id: 0, client: 'c', member: 'm1', kind: 'set', key: '/r0', invoke: 0, complete: 10, outcome: 'ok', value: 'z', index: 9 };
    const failures = checkRun(run(applied, [lost])).join('\n');
    assert.match(failures, /a request was applied twice: a written at 5/);
    assert.match(failures, /acknowledged write not applied as answered/);
  });

  it('fails a watcher that missed an event of its key, or saw one twice', () => {
    const applied = new AppliedLog();
    for (const i of [5, 6, 7]) applied.record('m1', set('/r0', `v${i}`, i), i);
    const seen = (indexes: number[]): WatchRecord => ({ name: 'w', key: '/r0', events: indexes.map((i) => ({ index: i, text: JSON.stringify(set('/r0', `v${i}`, i)), at: i })), skipped: [], next: 8 });
    assert.match(checkRun(run(applied, [], [seen([5, 7])])).join('\n'), /watcher w of \/r0: event 2 is 7 .*expected 6/);
    assert.match(checkRun(run(applied, [], [seen([5, 6, 6, 7])])).join('\n'), /watcher w of \/r0/);
    // A 401 that made it skip 5..6 is no miss.
    assert.deepEqual(checkRun(run(applied, [], [{ ...seen([7]), skipped: [{ from: 1, to: 6 }] }])), []);
  });
});
