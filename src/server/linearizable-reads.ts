import type { ReadState } from '../raft/types.ts';
import type { Clock, Timers } from './member-env.ts';
import { RETRY_MS, timeoutError } from './proposals.ts';

export interface ReadsDeps {
  readonly clock: Clock;
  readonly timers: Timers;
  /** Asks the core for a ReadIndex: false when it dropped the request (try again). */
  readonly readIndex: (context: string) => boolean;
  readonly running: () => boolean;
  readonly appliedIndex: () => number;
  readonly storeIndex: () => number;
}

/**
 * Linearizable reads by ReadIndex (Raft thesis §6.4): the leader confirms it still leads and
 * names its commit index; the read is answered once this member has applied up to that index.
 */
export class LinearizableReads {
  private readonly deps: ReadsDeps;
  private readonly contextPrefix: string;
  private sequence = 0;
  /** Reads waiting for their ReadState, by context. */
  private readonly waiting = new Map<string, (index: number) => void>();
  /** Reads whose index is known, waiting for this member to apply up to it. */
  private applying: Array<{ index: number; resolve: () => void }> = [];

  constructor(deps: ReadsDeps, contextPrefix: string) {
    this.deps = deps;
    this.contextPrefix = contextPrefix;
  }

  /** Resolves once this member's store reflects every write acknowledged before the call. */
  read(timeoutMs: number): Promise<void> {
    const { clock, timers } = this.deps;
    const context = `${this.contextPrefix}-r${++this.sequence}`;
    const deadline = clock.monotonic() + timeoutMs;
    return new Promise<void>((resolve, reject) => {
      const cancel = timers.after(timeoutMs, () => {
        this.waiting.delete(context);
        reject(timeoutError(this.deps.storeIndex()));
      });
      this.waiting.set(context, (index) => {
        cancel();
        this.waiting.delete(context);
        this.whenApplied(index, resolve);
      });
      const ask = (): void => {
        if (!this.waiting.has(context) || !this.deps.running()) return;
        if (!this.deps.readIndex(context) && clock.monotonic() < deadline) timers.after(RETRY_MS, ask);
      };
      ask();
    });
  }

  /** The core confirmed these reads' indexes (from a Ready). */
  confirmed(states: readonly ReadState[]): void {
    for (const state of states) this.waiting.get(state.context)?.(state.index);
  }

  /** This member applied up to `appliedIndex`: the reads waiting for it go ahead. */
  applied(appliedIndex: number): void {
    if (this.applying.length === 0) return;
    const ready = this.applying.filter((w) => w.index <= appliedIndex);
    this.applying = this.applying.filter((w) => w.index > appliedIndex);
    for (const waiter of ready) waiter.resolve();
  }

  private whenApplied(index: number, resolve: () => void): void {
    if (this.deps.appliedIndex() >= index) resolve();
    else this.applying.push({ index, resolve });
  }
}
