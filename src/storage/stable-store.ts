import type { HardState } from '../raft/types.ts';
import { EMPTY_HARD_STATE } from '../raft/types.ts';
import { decodeJson, encodeJson, readRecord, readU64, record, writeU64 } from './codec.ts';
import { DataDirError } from './errors.ts';
import type { KvBackend } from './kv-backend.ts';
import type { WriteOp } from './write-queue.ts';

/** The stable state on disk: "h" the hard state (u64 term, vote, commit), "c" the membership record (JSON). */
export const KEY_HARD_STATE = Buffer.from('h');
export const KEY_MEMBERSHIP = Buffer.from('c');

export function encodeHardState(hardState: HardState): Buffer {
  const payload = Buffer.allocUnsafe(24);
  writeU64(payload, 0, hardState.term);
  writeU64(payload, 8, hardState.vote);
  writeU64(payload, 16, hardState.commit);
  return record(payload);
}

export function decodeHardState(payload: Buffer): HardState | undefined {
  if (payload.length !== 24) return undefined;
  return { term: readU64(payload, 0), vote: readU64(payload, 8), commit: readU64(payload, 16) };
}

/** The stable records as read, checked: the hard state (undefined if never written) and membership. */
export interface StableRecords {
  readonly hardState: HardState | undefined;
  readonly membership: unknown;
}

/** Throws if a log that ends at `lastIndex` has entries but no hard state. */
export function checkStableRecords(dir: string, records: StableRecords, lastIndex: number): void {
  if (records.hardState === undefined && lastIndex > 0) throw new DataDirError(dir, `the log reaches index ${lastIndex}, but the hard state record is missing`);
}

/**
 * The hard state and the server's membership record. While the member catches up on entries it
 * had acknowledged and lost, the commit index it had acknowledged stays on disk (catchUpTo).
 */
export class StableStore {
  /** The server's membership record as last saved (Raft itself reads the snapshot's ConfState). */
  membership: unknown;
  /**
   * Non-zero when the data dir lost entries it had acknowledged: its hard state committed this
   * index, past the end of what it holds. Raft is given the commit clamped to the log's end, and
   * must not vote until it has committed this index again (RaftConfig.catchUpTo).
   */
  readonly catchUpTo: number;
  /** The hard state Raft starts from (its commit clamped to the log's end). */
  readonly initialHardState: HardState;
  /** The commit index the hard state on disk keeps until Raft's reaches it (0 once it has). */
  private keptCommit: number;

  /** The stable state of a log that ends at `lastIndex` (checked: checkStableRecords). */
  constructor(dir: string, records: StableRecords, lastIndex: number) {
    checkStableRecords(dir, records, lastIndex);
    const hardState = records.hardState ?? EMPTY_HARD_STATE;
    // Entries the hard state commits were acknowledged by this member; Raft must not count on them.
    this.catchUpTo = hardState.commit > lastIndex ? hardState.commit : 0;
    this.keptCommit = this.catchUpTo;
    this.initialHardState = this.catchUpTo === 0 ? hardState : { ...hardState, commit: lastIndex };
    this.membership = records.membership;
  }

  static async read(db: KvBackend, dir: string): Promise<StableRecords> {
    const hardPayload = await readRecord(db, dir, KEY_HARD_STATE, 'hard state');
    const hardState = hardPayload === undefined ? undefined : decodeHardState(hardPayload);
    if (hardPayload !== undefined && hardState === undefined) throw new DataDirError(dir, 'the hard state record is malformed');
    const membershipPayload = await readRecord(db, dir, KEY_MEMBERSHIP, 'membership');
    return { hardState, membership: membershipPayload === undefined ? undefined : decodeJson<unknown>(membershipPayload) };
  }

  /** Adds the hard state to write to `ops` (see catchUpTo). */
  stageHardState(ops: WriteOp[], hardState: HardState): void {
    if (hardState.commit >= this.keptCommit) this.keptCommit = 0;
    const onDisk = this.keptCommit === 0 ? hardState : { ...hardState, commit: this.keptCommit };
    ops.push({ type: 'put', key: KEY_HARD_STATE, value: encodeHardState(onDisk) });
  }

  stageMembership(ops: WriteOp[], membership: unknown): void {
    ops.push({ type: 'put', key: KEY_MEMBERSHIP, value: encodeJson(membership) });
  }
}
