/**
 * A proposal or read the core cannot take now (no leader, a transfer in progress, a pending
 * change): an expected outcome, returned rather than thrown, which the caller may try again.
 */
export interface Dropped {
  readonly dropped: string;
}

export function dropped(reason: string): Dropped {
  return { dropped: `raft proposal dropped: ${reason}` };
}

/** An entry that Storage no longer has (compacted), or a snapshot request before one exists. */
export class CompactedError extends Error {
  constructor(index: number, firstIndex: number) {
    super(`raft log: index ${index} is compacted (first index ${firstIndex})`);
    this.name = 'CompactedError';
  }
}

/** Storage has no snapshot ready yet: try again later. */
export class SnapshotTemporarilyUnavailableError extends Error {
  constructor() {
    super('raft storage: snapshot temporarily unavailable');
    this.name = 'SnapshotTemporarilyUnavailableError';
  }
}
