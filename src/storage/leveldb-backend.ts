import { ClassicLevel } from 'classic-level';
import { checkDataDir } from './data-dir-check.ts';
import { DataDirError } from './errors.ts';
import type { KeyRange, KvBackend } from './kv-backend.ts';
import type { WriteOp } from './write-queue.ts';

type Db = ClassicLevel<Buffer, Buffer>;

/**
 * The descriptors LevelDB may hold (its table cache takes all but 10 of them). Its default of
 * 1,000 is more than the reserve the client connection cap leaves it: a database of a few hundred
 * tables then failed to open one once clients held the rest, and the member stopped. kvd reads
 * the database at start, for snapshots and in compactions, so a small cache costs little.
 */
export const LEVELDB_MAX_OPEN_FILES = 64;

/** Rows read per step of a scan (image pages are up to 1 MiB each). */
const SCAN_STEP = 16;

/** A data dir's classic-level database, opened only after the dir passed its check. */
export class LevelDbBackend implements KvBackend {
  private readonly db: Db;

  private constructor(db: Db) {
    this.db = db;
  }

  /**
   * Checks the data dir (checkDataDir: nothing is changed in a dir that fails), then opens its
   * database, creating one only in an absent or empty dir. Throws DataDirError naming the dir.
   * `warnings` are lines for the operator (wide modes, a torn final write LevelDB drops).
   */
  static async open(dir: string): Promise<{ backend: LevelDbBackend; warnings: readonly string[]; tornWrite: string | undefined }> {
    keepFilesPrivate();
    const { fresh, warnings, tornWrite } = await checkDataDir(dir);
    // A database is created only in an absent or empty dir: over anything else LevelDB would
    // start a new one and delete the old one's files.
    const db: Db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: fresh, errorIfExists: false, maxOpenFiles: LEVELDB_MAX_OPEN_FILES });
    try {
      await db.open();
    } catch (error) {
      throw new DataDirError(dir, describeOpenError(error));
    }
    return { backend: new LevelDbBackend(db), warnings, tornWrite };
  }

  batch(ops: readonly WriteOp[], options: { sync: boolean }): Promise<void> {
    return this.db.batch([...ops], options);
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    return this.db.get(key);
  }

  async *scan(range: KeyRange): AsyncIterable<readonly [Buffer, Buffer]> {
    const iterator = this.db.iterator(range);
    try {
      for (let rows = await iterator.nextv(SCAN_STEP); rows.length > 0; rows = await iterator.nextv(SCAN_STEP)) yield* rows;
    } finally {
      await iterator.close();
    }
  }

  clear(range: KeyRange): Promise<void> {
    return this.db.clear(range);
  }

  async reclaim(range: KeyRange): Promise<void> {
    if (range.gte !== undefined && range.lt !== undefined) await this.db.compactRange(range.gte, range.lt);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/**
 * LevelDB creates its files with the process's umask for as long as the member runs (new logs,
 * compaction output), so the mask, not a chmod after opening, keeps them private: files 0600,
 * the dir 0700, whatever umask kvd was started with. kvd writes no file meant for other users.
 */
function keepFilesPrivate(): void {
  const previous = process.umask(0o077);
  if ((previous | 0o077) !== 0o077) process.umask(previous | 0o077);
}

function describeOpenError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === 'LEVEL_LOCKED') return 'in use by another running member (its lock is held); stop that member or choose another --data-dir';
  const message = cause?.message ?? (error instanceof Error ? error.message : String(error));
  return `cannot be opened: ${message}`;
}
