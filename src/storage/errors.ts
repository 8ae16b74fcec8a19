/**
 * A data dir that cannot be used as it is: corrupt, from another format, or in use. The member
 * must refuse to start with this message; nothing is repaired.
 */
export class DataDirError extends Error {
  readonly dir: string;
  constructor(dir: string, problem: string) {
    super(`data dir ${dir}: ${problem}`);
    this.name = 'DataDirError';
    this.dir = dir;
  }
}

/**
 * A write that could not be made durable (disk full, permission denied, I/O error). After one,
 * the storage refuses every later write: nothing is acknowledged that was not persisted.
 */
export class StorageFailedError extends Error {
  constructor(dir: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`data dir ${dir}: cannot persist (${reason}); this member accepts no more writes`);
    this.name = 'StorageFailedError';
  }
}
