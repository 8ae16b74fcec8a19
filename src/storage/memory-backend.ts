import type { KeyRange, KvBackend } from './kv-backend.ts';
import type { WriteOp } from './write-queue.ts';

export interface MemoryBackendOptions {
  /**
   * Awaited before each write takes effect, so that a simulation's scheduler decides when the
   * "disk" answers (a crash() meanwhile loses that write). By default a write lands at once and
   * resolves on a microtask.
   */
  readonly io?: () => Promise<void>;
}

/** An fsync error as Node reports one. */
function fsyncError(): NodeJS.ErrnoException {
  return Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO', syscall: 'fsync' });
}

/** A full disk as Node reports one. */
function noSpaceError(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
}

/**
 * An in-memory KvBackend with LevelDB's durability contract, for running the storage logic (and a
 * whole member) in a deterministic simulation: no timers, no randomness, no I/O.
 *
 * - A batch is atomic, and takes no effect when it fails.
 * - `crash()` returns the backend a restart after a power loss finds: every write up to and
 *   including the last batch written with `sync: true` (a sync makes all earlier writes durable,
 *   as LevelDB's one log file does); the unsynced writes after it are lost. `reopen()` is a clean
 *   restart: every write that resolved is kept.
 * - `failSyncs()` makes the next synced batch fail (an fsync error). As in LevelDB, a failed
 *   sync breaks the backend: every later write fails with the same error until a restart.
 * - `diskFull(bytes)` leaves that many bytes of room: a batch that needs more (keys and values it
 *   writes, keys it deletes) fails with an ENOSPC error and takes no effect. The disk stays full
 *   across crash(); `diskFull(Infinity)` frees it.
 */
export class MemoryBackend implements KvBackend {
  private readonly io: (() => Promise<void>) | undefined;
  /** What reads see: keys as latin1 strings (their order is the bytes' order). */
  private readonly live: Map<string, Buffer>;
  /** What survives a crash. Invariant: `durable` plus `unsynced`, in order, is `live`. */
  private readonly durable: Map<string, Buffer>;
  private unsynced: Change[][] = [];
  private sortedKeys: string[] | undefined;
  private pendingSyncFailure: Error | undefined;
  /** Set by a failed sync: every later write fails with it (LevelDB's background error). */
  private broken: Error | undefined;
  private room = Infinity;
  private closed = false;
  /** Counters for tests and the simulation. */
  batches = 0;
  syncs = 0;

  constructor(options: MemoryBackendOptions = {}) {
    this.io = options.io;
    this.durable = new Map();
    this.live = new Map();
  }

  /**
   * The backend a restart after a crash (kill -9, power loss) finds: only what was durable. This
   * one is closed (a write still waiting for its `io` is lost).
   */
  crash(): MemoryBackend {
    return this.restart(this.durable);
  }

  /**
   * The backend a clean restart finds (the member stopped, or the process died but not the
   * machine): every write that resolved, as LevelDB's unsynced writes survive in the OS's cache.
   * Like crash(), this one is closed.
   */
  reopen(): MemoryBackend {
    return this.restart(this.live);
  }

  private restart(kept: ReadonlyMap<string, Buffer>): MemoryBackend {
    this.closed = true;
    const restarted = new MemoryBackend(this.io === undefined ? {} : { io: this.io });
    for (const [name, value] of kept) {
      restarted.durable.set(name, value);
      restarted.live.set(name, value);
    }
    restarted.room = this.room;
    return restarted;
  }

  /** The next synced batch fails with `error` (an fsync error by default), and breaks the backend. */
  failSyncs(error: Error = fsyncError()): void {
    this.pendingSyncFailure = error;
  }

  /** Leaves `bytes` of room for writes from now on (Infinity: room again). */
  diskFull(bytes: number): void {
    this.room = bytes;
  }

  async batch(ops: readonly WriteOp[], options: { sync: boolean }): Promise<void> {
    await this.settle();
    const size = ops.reduce((sum, op) => sum + op.key.length + (op.type === 'put' ? op.value.length : 0), 0);
    if (size > this.room) throw noSpaceError();
    if (options.sync && this.pendingSyncFailure !== undefined) {
      this.broken = this.pendingSyncFailure;
      this.pendingSyncFailure = undefined;
      throw this.broken;
    }
    this.room -= size;
    // Copied: the caller may reuse its buffers.
    const changes = ops.map((op): Change => [op.key.toString('latin1'), op.type === 'put' ? Buffer.from(op.value) : undefined]);
    applyTo(this.live, changes);
    if (ops.some((op) => op.type === 'put')) this.sortedKeys = undefined;
    this.unsynced.push(changes);
    this.batches++;
    if (options.sync) this.makeDurable();
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.checkOpen();
    await Promise.resolve();
    const value = this.live.get(key.toString('latin1'));
    return value === undefined ? undefined : Buffer.from(value);
  }

  async *scan(range: KeyRange): AsyncIterable<readonly [Buffer, Buffer]> {
    this.checkOpen();
    // The rows as they are now: later writes do not show (a LevelDB iterator's implicit snapshot).
    const rows = this.keysIn(range).map((name) => [name, this.live.get(name)!] as const);
    for (const [name, value] of rows) {
      await Promise.resolve();
      yield [Buffer.from(name, 'latin1'), Buffer.from(value)];
    }
  }

  async clear(range: KeyRange): Promise<void> {
    this.checkOpen();
    const ops = this.keysIn(range).map((name): WriteOp => ({ type: 'del', key: Buffer.from(name, 'latin1') }));
    if (ops.length === 0) return;
    await this.batch(ops, { sync: false });
  }

  async reclaim(_range: KeyRange): Promise<void> {
    this.checkOpen();
    await Promise.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.resolve();
  }

  private async settle(): Promise<void> {
    this.checkOpen();
    if (this.io !== undefined) await this.io();
    // A crash or close while the write waited for the disk: it never happened.
    this.checkOpen();
    if (this.broken !== undefined) throw this.broken;
  }

  private makeDurable(): void {
    for (const ops of this.unsynced) applyTo(this.durable, ops);
    this.unsynced = [];
    this.syncs++;
  }

  private keysIn(range: KeyRange): string[] {
    this.sortedKeys ??= [...this.live.keys()].sort();
    const gte = range.gte?.toString('latin1');
    const lt = range.lt?.toString('latin1');
    return this.sortedKeys.filter((name) => this.live.has(name) && (gte === undefined || name >= gte) && (lt === undefined || name < lt));
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('MemoryBackend: closed (or crashed)');
  }
}

/** One write of a batch: a key (as latin1) and its new value, or undefined for a delete. */
type Change = readonly [name: string, value: Buffer | undefined];

function applyTo(map: Map<string, Buffer>, changes: readonly Change[]): void {
  for (const [name, value] of changes) {
    if (value === undefined) map.delete(name);
    else map.set(name, value);
  }
}
