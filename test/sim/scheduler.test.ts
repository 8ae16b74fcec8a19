import assert from 'node:assert/strict';
import { Scheduler } from './scheduler.ts';

describe('cluster simulation: the scheduler', () => {
  it('runs events in time order, ties in the order they were scheduled, with promise continuations in between', async () => {
    const scheduler = new Scheduler();
    const seen: string[] = [];
    scheduler.at(20, () => seen.push('b'));
    scheduler.at(10, () => void Promise.resolve().then(() => seen.push('a2')).then(() => seen.push('a3')));
    scheduler.at(10, () => seen.push('a4'));
    scheduler.at(30, () => seen.push('c'));
    await scheduler.runUntil(25);
    assert.deepEqual(seen, ['a2', 'a3', 'a4', 'b']);
    assert.equal(scheduler.now, 25);
  });

  it('cancels a retired owner\'s timers, and every timer it sets later', async () => {
    const scheduler = new Scheduler();
    const timers = scheduler.timersFor('m1#1');
    let ticks = 0;
    timers.every(10, () => ticks++);
    await scheduler.runUntil(35);
    scheduler.retire('m1#1');
    timers.after(1, () => ticks++);
    await scheduler.runUntil(100);
    assert.equal(ticks, 3);
  });

  it('holds a paused owner\'s events until it resumes, and skews each clock', async () => {
    const scheduler = new Scheduler();
    const at: number[] = [];
    scheduler.after(5, () => at.push(scheduler.now), 'm2#1');
    scheduler.pause('m2#1', 50);
    await scheduler.runUntil(100);
    assert.deepEqual(at, [50]);
    assert.equal(scheduler.clockFor(-30).now() - scheduler.clockFor(0).now(), -30);
  });
});
