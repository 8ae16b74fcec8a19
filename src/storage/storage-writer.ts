import { StorageFailedError } from './errors.ts';
import type { KeyRange, KvBackend } from './kv-backend.ts';
import type { WriteOp } from './write-queue.ts';
import { WriteQueue } from './write-queue.ts';

/**
 * Every write of the three stores goes through here: through the group-commit queue (the log's
 * order, syncs), or beside it, unsynced (snapshot rows, range deletes). The first failure fails
 * every later write (StorageFailedError): nothing is acknowledged that was not persisted.
 */
export class StorageWriter {
  private readonly dir: string;
  private readonly db: KvBackend;
  private readonly queue: WriteQueue;
  private failure: StorageFailedError | undefined;

  constructor(db: KvBackend, dir: string) {
    this.db = db;
    this.dir = dir;
    this.queue = new WriteQueue({ batch: (ops, options) => this.db.batch(ops, options) });
  }

  get stats(): { batches: number; syncs: number } {
    return { batches: this.queue.batches, syncs: this.queue.syncs };
  }

  /** One atomic batch through the queue; resolves once it is written (and synced, if asked). */
  write(ops: WriteOp[], sync: boolean): Promise<void> {
    return this.guarded(() => this.queue.write(ops, sync));
  }

  /** A batch beside the write queue, unsynced (a later synced write makes it durable). */
  async unqueued(ops: WriteOp[]): Promise<void> {
    if (ops.length > 0) await this.guarded(() => this.db.batch(ops, { sync: false }));
  }

  /** Deletes a range beside the queue, unsynced; `reclaim` frees its space now. */
  clear(range: KeyRange, reclaim = false): Promise<void> {
    return this.guarded(async () => {
      await this.db.clear(range);
      if (reclaim) await this.db.reclaim(range);
    });
  }

  private async guarded(work: () => Promise<unknown>): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    try {
      await work();
    } catch (error) {
      this.failure ??= new StorageFailedError(this.dir, error);
      throw this.failure;
    }
  }
}
