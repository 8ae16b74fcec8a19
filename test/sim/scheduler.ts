import type { Cancel, Clock, Timers } from '../../src/server/member-env.ts';

/** Whose event it is: a member's timers are cancelled when it crashes, and wait while it is paused. */
export type Owner = string;

interface Scheduled {
  time: number;
  seq: number;
  readonly owner: Owner | undefined;
  readonly run: () => void;
  cancelled: boolean;
}

/** The simulated epoch: TTL expiry times are wall-clock times, so the clock starts at a real-looking date. */
export const SIM_EPOCH = Date.UTC(2026, 0, 1);

/**
 * One simulated time for the whole cluster: an ordered queue of (time, seq) events. After each
 * event the microtask queue is drained before the next one runs: nothing in a simulated member
 * does real I/O or reads real time, so what runs, and in which order, depends on the seed only.
 */
export class Scheduler {
  /** Milliseconds since SIM_EPOCH. */
  now = 0;
  private readonly heap: Scheduled[] = [];
  private seq = 0;
  private readonly byOwner = new Map<Owner, Set<Scheduled>>();
  /** Owners paused until the given time: their events wait. */
  private readonly pausedUntil = new Map<Owner, number>();
  /** Owners gone for good: what they schedule from now on never runs (a crashed member's leftovers). */
  private readonly retired = new Set<Owner>();
  /** Events run so far (a measure of the run's work). */
  events = 0;

  /** Runs `run` at `time` (not before now); `owner`'s events can be cancelled together. */
  at(time: number, run: () => void, owner?: Owner): Cancel {
    if (owner !== undefined && this.retired.has(owner)) return () => {};
    const event: Scheduled = { time: Math.max(time, this.now), seq: this.seq++, owner, run, cancelled: false };
    this.push(event);
    if (owner !== undefined) {
      let owned = this.byOwner.get(owner);
      if (owned === undefined) this.byOwner.set(owner, (owned = new Set()));
      owned.add(event);
    }
    return () => this.cancel(event);
  }

  after(ms: number, run: () => void, owner?: Owner): Cancel {
    return this.at(this.now + ms, run, owner);
  }

  /** Cancels every event of `owner` (a crashed member's timers and deliveries), now and later. */
  retire(owner: Owner): void {
    this.retired.add(owner);
    for (const event of this.byOwner.get(owner) ?? []) event.cancelled = true;
    this.byOwner.delete(owner);
    this.pausedUntil.delete(owner);
  }

  /** Holds `owner`'s events until `until` (a member stopped by the OS, a long GC pause). */
  pause(owner: Owner, until: number): void {
    this.pausedUntil.set(owner, Math.max(until, this.pausedUntil.get(owner) ?? 0));
  }

  isPaused(owner: Owner): boolean {
    return (this.pausedUntil.get(owner) ?? 0) > this.now;
  }

  /** Timers for one owner, as a member takes them from its env. */
  timersFor(owner: Owner): Timers {
    return {
      after: (ms, callback) => this.after(ms, callback, owner),
      every: (ms, callback) => {
        let cancel: Cancel = () => {};
        let stopped = false;
        const fire = (): void => {
          if (stopped) return;
          cancel = this.after(ms, fire, owner);
          callback();
        };
        cancel = this.after(ms, fire, owner);
        return () => {
          stopped = true;
          cancel();
        };
      },
    };
  }

  /** A member's clock: its wall clock is simulated time plus its own skew. */
  clockFor(skewMs: number): Clock {
    return { now: () => SIM_EPOCH + this.now + skewMs, monotonic: () => this.now };
  }

  /** Runs events in order until `until` (inclusive) or until `stop()` says so; drains microtasks after each. */
  async runUntil(until: number, stop: () => boolean = () => false): Promise<void> {
    await drain();
    while (this.heap.length > 0 && this.heap[0]!.time <= until && !stop()) {
      const event = this.pop();
      if (event.cancelled) continue;
      this.now = event.time;
      if (event.owner !== undefined) {
        const resumeAt = this.pausedUntil.get(event.owner);
        if (resumeAt !== undefined && resumeAt > this.now) {
          // It waits for the owner's resumption, behind what is already queued for then.
          event.time = resumeAt;
          event.seq = this.seq++;
          this.push(event);
          continue;
        }
        this.byOwner.get(event.owner)?.delete(event);
      }
      this.events++;
      event.run();
      await drain();
    }
    if (!stop()) this.now = Math.max(this.now, until);
  }

  private cancel(event: Scheduled): void {
    event.cancelled = true;
    if (event.owner !== undefined) this.byOwner.get(event.owner)?.delete(event);
  }

  private push(event: Scheduled): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Scheduled {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < heap.length && before(heap[left]!, heap[least]!)) least = left;
        if (right < heap.length && before(heap[right]!, heap[least]!)) least = right;
        if (least === i) break;
        [heap[i], heap[least]] = [heap[least]!, heap[i]!];
        i = least;
      }
    }
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/**
 * Lets every promise continuation run: setImmediate's callback comes only once the microtask
 * queue is empty, and a simulated member has no I/O that could complete in between.
 */
export function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
