/** One write to LevelDB: a put or a delete, or a range delete done in the same turn. */
export type WriteOp =
  | { readonly type: 'put'; readonly key: Buffer; readonly value: Buffer }
  | { readonly type: 'del'; readonly key: Buffer };

export interface BatchTarget {
  batch(ops: WriteOp[], options: { sync: boolean }): Promise<void>;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: while one batch is being written (and synced), later writes wait together and go
 * out as the next single batch, synced if any of them asked for it. Writes become durable in the
 * order they were queued; each caller's promise resolves when its batch is on disk.
 */
export class WriteQueue {
  private readonly target: BatchTarget;
  private inFlight = false;
  private queued: WriteOp[] = [];
  private queuedSync = false;
  private waiters: Waiter[] = [];
  /** Counters for the benchmark and metrics. */
  batches = 0;
  syncs = 0;

  constructor(target: BatchTarget) {
    this.target = target;
  }

  write(ops: readonly WriteOp[], sync: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      for (const op of ops) this.queued.push(op);
      this.queuedSync ||= sync;
      this.waiters.push({ resolve, reject });
      if (!this.inFlight) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.waiters.length > 0) {
      const ops = this.queued;
      const sync = this.queuedSync;
      const waiters = this.waiters;
      this.queued = [];
      this.queuedSync = false;
      this.waiters = [];
      this.inFlight = true;
      try {
        if (ops.length > 0) {
          await this.target.batch(ops, { sync });
          this.batches++;
          if (sync) this.syncs++;
        }
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      } finally {
        this.inFlight = false;
      }
    }
  }
}
