import type { ConfState } from '../raft/types.ts';
import type { DiskStorage } from '../storage/disk-storage.ts';
import type { Logger } from './logger.ts';
import type { Clock, Membership } from './member-env.ts';
import type { MemberFsm } from './member-fsm.ts';
import type { Taken } from './store-image.ts';
import { captureChanges, encodeChanges, writeBase } from './store-image.ts';

export interface SnapshotDeps {
  readonly storage: DiskStorage;
  readonly fsm: () => MemberFsm;
  readonly confState: () => ConfState;
  readonly clock: Clock;
  readonly log: Logger;
  /** Entries applied between snapshots (--snapshot-count). */
  readonly snapshotCount: number;
  /** Entries kept in the log behind a snapshot, for slow followers (--snapshot-catchup-entries). */
  readonly catchupEntries: number;
  /** The member cannot go on: a failed snapshot leaves the storage refusing writes. */
  readonly failStop: (what: string, cause: unknown) => void;
}

/**
 * Snapshots of the state machine, taken every --snapshot-count applied entries and saved, with the
 * log compacted behind them, in the background so that requests keep flowing meanwhile.
 */
export class SnapshotScheduler {
  private readonly deps: SnapshotDeps;
  /** Index of the latest snapshot saved (or loaded, or installed from the leader). */
  index: number;
  /** The snapshot being saved, if any (one at a time). */
  private task: Promise<void> | undefined;

  constructor(deps: SnapshotDeps, index: number) {
    this.deps = deps;
    this.index = index;
  }

  /** Resolves when no snapshot is being saved (a leader's snapshot must not be installed meanwhile). */
  async idle(): Promise<void> {
    await this.task;
  }

  /** Whether maybeSnapshot would start a snapshot now. */
  get due(): boolean {
    return this.task === undefined && this.deps.fsm().appliedIndex - this.index >= this.deps.snapshotCount;
  }

  /**
   * Every --snapshot-count applied entries, a snapshot: a delta of what the store's writes changed
   * since the last one, taken now (at this index); or a new base, written as the tree is walked
   * (the first, after a failed one, or when the deltas outgrow the base), at the index where the
   * walk ends.
   */
  maybeSnapshot(): void {
    const { storage } = this.deps;
    if (!this.due) return;
    const shape = storage.imageShape;
    const newBase = !storage.takesImageChanges || shape.deltaBytes > shape.baseBytes;
    this.task = this.save(newBase).finally(() => (this.task = undefined));
  }

  private take(): Taken<Membership> {
    const fsm = this.deps.fsm();
    return { state: fsm.state(), index: fsm.appliedIndex, confState: this.deps.confState() };
  }

  private async save(newBase: boolean): Promise<void> {
    const { storage, clock, log } = this.deps;
    const started = clock.monotonic();
    let index = this.deps.fsm().appliedIndex;
    try {
      let what: Record<string, number>;
      if (newBase) {
        const written = await writeBase(this.deps.fsm().store, await storage.beginBase(), () => this.take());
        index = written.index;
        what = { base: written.nodes };
      } else {
        const taken = this.take();
        index = taken.index;
        const captured = captureChanges(taken.state);
        await storage.saveSnapshot(index, taken.confState, await encodeChanges(captured));
        what = { written: captured.nodes.length, removed: captured.removed.length };
      }
      this.index = index;
      const compactTo = index - this.deps.catchupEntries;
      if (compactTo > storage.firstIndex()) await storage.compact(compactTo);
      log.info('snapshot saved', { index, ...what, ms: Math.round(clock.monotonic() - started), firstIndex: storage.firstIndex() });
    } catch (error) {
      // The storage refuses every write after a failed one, and the store's changes taken for
      // this snapshot are gone from its record: the member cannot go on.
      this.deps.failStop(`cannot save the snapshot at index ${index}`, error);
    }
  }
}
