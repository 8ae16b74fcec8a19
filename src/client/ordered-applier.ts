import { isAtOrBelow } from './export-format.ts';

interface Running {
  readonly key: string;
  readonly done: Promise<void>;
}

function related(a: string, b: string): boolean {
  return isAtOrBelow(a, b) || isAtOrBelow(b, a);
}

/**
 * Applies numbered changes several at a time with the effect of applying them one by one in
 * order: a change waits for every earlier change to the same key, a directory above it or a key
 * below it. `appliedIndex` is the index up to which every change is done, where a restarted
 * follower resumes (re-applying a change that was already done is harmless: each is a plain set or
 * delete of the final state).
 */
export class OrderedApplier {
  private readonly limit: number;
  private readonly running = new Map<number, Running>();
  /** The highest index handed in (applied, running or skipped). */
  private handedIn = 0;
  /** The first change that failed, and why: nothing after it counts as applied. */
  private failure: { index: number; reason: unknown } | undefined;

  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }

  /** Everything at or below this index is applied. */
  get appliedIndex(): number {
    let lowest = this.failure?.index ?? Infinity;
    for (const index of this.running.keys()) lowest = Math.min(lowest, index);
    return lowest === Infinity ? this.handedIn : lowest - 1;
  }

  /** Starts over at `index` (after a copy of the whole tree at that index); nothing may be running. */
  restartAt(index: number): void {
    this.handedIn = index;
  }

  /** A change that needs no work (one the follower does not copy). */
  skip(index: number): void {
    this.handedIn = Math.max(this.handedIn, index);
  }

  /**
   * Starts `work` for the change at `index` once no related change is running and fewer than the
   * limit are; resolves when it has started. Rejects with the failure of an earlier change.
   */
  async add(index: number, key: string, work: () => Promise<void>): Promise<void> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure.reason;
      const blockers = [...this.running.values()].filter((running) => this.running.size >= this.limit || related(running.key, key));
      if (blockers.length === 0) break;
      await Promise.race(blockers.map((blocker) => blocker.done));
    }
    const done = work().then(
      () => void this.running.delete(index),
      (reason: unknown) => {
        this.failure ??= { index, reason };
        this.running.delete(index);
      },
    );
    this.running.set(index, { key, done });
    this.handedIn = Math.max(this.handedIn, index);
  }

  /** Waits for every running change; rejects with the first failure. */
  async drain(): Promise<void> {
    await Promise.all([...this.running.values()].map((running) => running.done));
    if (this.failure !== undefined) throw this.failure.reason;
  }
}
