import type { WriteOp } from './write-queue.ts';

/** Keys from `gte` (included) to `lt` (excluded); a missing bound is open. */
export interface KeyRange {
  readonly gte?: Buffer;
  readonly lt?: Buffer;
}

/**
 * The ordered key-value store under DiskStorage: what it needs of LevelDB and nothing more, so
 * that the same storage logic runs on LevelDB (LevelDbBackend) or in memory (MemoryBackend).
 *
 * The durability contract (LevelDB's with one log file, as kvd relies on it under kill -9 and power
 * loss): a batch is atomic; a batch written with `sync: true` is durable once it resolves, and so
 * is every write that resolved before it; an unsynced write may be lost on a crash, and only
 * together with every write after it. A failed batch is not seen by reads (whether it survives a
 * crash is unknown; in a MemoryBackend it does not).
 */
export interface KvBackend {
  batch(ops: readonly WriteOp[], options: { sync: boolean }): Promise<void>;
  get(key: Buffer): Promise<Buffer | undefined>;
  /** The rows in `range` in key order, as they were when the scan began (one point in time). */
  scan(range: KeyRange): AsyncIterable<readonly [Buffer, Buffer]>;
  /** Deletes every key in `range`, unsynced (as a batch of deletes). */
  clear(range: KeyRange): Promise<void>;
  /** Asks the backend to reclaim the space of what was deleted in `range` now (a hint). */
  reclaim(range: KeyRange): Promise<void>;
  close(): Promise<void>;
}
