/** A proposal that cannot be accepted now (no leader, a transfer in progress, a pending change). */
export class ProposalDroppedError extends Error {
  constructor(reason: string) {
    super(`raft proposal dropped: ${reason}`);
    this.name = 'ProposalDroppedError';
  }
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
