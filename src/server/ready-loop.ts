import type { Ready } from '../raft/raw-node.ts';
import type { HardState, Snapshot } from '../raft/types.ts';
import type { DiskStorage } from '../storage/disk-storage.ts';
import type { LinearizableReads } from './linearizable-reads.ts';
import type { Logger } from './logger.ts';
import type { MemberCore } from './member-core.ts';
import type { Clock, Membership, MemberTransport } from './member-env.ts';
import type { MemberFsm } from './member-fsm.ts';
import { restoreSnapshotData } from './member-fsm.ts';
import { formatId } from './member-id.ts';
import type { MembershipChanges } from './membership-changes.ts';
import type { Proposals } from './proposals.ts';
import type { SnapshotScheduler } from './snapshot-scheduler.ts';
import type { MemberState } from './store-image.ts';

/** The parts of a member the Ready loop joins. */
export interface ReadyParts {
  readonly core: MemberCore;
  readonly storage: DiskStorage;
  readonly fsm: MemberFsm;
  readonly proposals: Proposals;
  readonly reads: LinearizableReads;
  readonly membership: MembershipChanges;
  readonly snapshots: SnapshotScheduler;
  readonly transport: () => MemberTransport;
  readonly clock: Clock;
  readonly log: Logger;
  /** This member was removed from the cluster (applied here). */
  readonly removed: () => void;
}

/** Synced writes kept for the fsync histogram. */
const FSYNC_WINDOW = 4096;

/**
 * The Ready loop (etcd's raft node loop): take what the core has ready, send the leader's messages
 * while its own write syncs, persist, apply what is committed and answer its requests, send what
 * had to wait for the sync, advance; then maybe snapshot. It stops at the first failure (fail-stop).
 */
export class ReadyLoop {
  private readonly parts: ReadyParts;
  private wakeUp: (() => void) | undefined;
  private lastLeader = 0;
  private running = true;
  /**
   * The hard state of the latest Ready that needed no sync, not written yet: it goes with the next
   * write (see handleUnsynced).
   */
  private unwrittenHardState: HardState | undefined;
  /** The latest write the loop did not wait for, until it lands. */
  private landing: Promise<void> | undefined;
  /** Why such a write failed: the loop stops with it. */
  private writeFailure: { readonly cause: unknown } | undefined;
  leaderChanges = 0;
  fsyncMillis: number[] = [];
  /** States restored from peers' snapshots when they were checked, by data, for installing them. */
  private readonly checkedSnapshots = new WeakMap<Uint8Array, MemberState<Membership>>();

  constructor(parts: ReadyParts) {
    this.parts = parts;
  }

  wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  stop(): void {
    this.running = false;
    this.wake();
  }

  /** Restores a peer's snapshot data (and keeps the result for installing it); rejects if it cannot. */
  async checkSnapshot(data: Uint8Array): Promise<void> {
    this.checkedSnapshots.set(data, await restoreSnapshotData(data));
  }

  /** Runs until stopped; rejects with what stopped it if it could not persist or apply. */
  async run(): Promise<void> {
    const { core } = this.parts;
    try {
      while (this.running) {
        if (this.writeFailure !== undefined) throw this.writeFailure.cause;
        if (!core.hasReady()) {
          this.maybeSnapshot();
          await new Promise<void>((resolve) => (this.wakeUp = resolve));
          continue;
        }
        const rd = core.ready();
        await this.handle(rd);
        core.advance(rd);
        core.campaignIfAlone();
        this.maybeSnapshot();
      }
    } finally {
      // The storage closes after the loop: no write of ours may still be on its way then.
      await this.landing;
    }
    if (this.writeFailure !== undefined) throw this.writeFailure.cause;
    await this.writeHardState();
  }

  private async handle(rd: Ready): Promise<void> {
    const { storage, snapshots, clock } = this.parts;
    if (rd.softState !== undefined && rd.softState.lead !== this.lastLeader) this.leaderChanged(rd.softState.lead, rd.softState.role);
    // The leader's appends go out while its own write is still being synced.
    this.parts.transport().send(rd.messages);
    if (!rd.mustSync) {
      this.handleUnsynced(rd);
      return;
    }
    // A snapshot from the leader replaces the log: never while one of our own is being saved.
    if (rd.snapshot !== undefined) await snapshots.idle();
    const started = clock.monotonic();
    const hardState = rd.hardState ?? this.unwrittenHardState;
    this.unwrittenHardState = undefined;
    const persisted = storage.persist({
      entries: rd.entries,
      ...(hardState !== undefined ? { hardState } : {}),
      ...(rd.snapshot !== undefined ? { snapshot: rd.snapshot } : {}),
      sync: rd.mustSync,
    });
    if (rd.snapshot === undefined) {
      // Committed entries are durable on a quorum already: they are applied (and their clients
      // answered) while this member's own new entries are still being synced.
      try {
        this.applyCommitted(rd);
      } finally {
        await persisted;
      }
    } else {
      await persisted;
      await this.install(rd.snapshot);
      this.applyCommitted(rd);
    }
    this.recordFsync(clock.monotonic() - started);
    this.parts.transport().send(rd.messagesAfterSync);
    await this.persistMembership();
  }

  /**
   * A Ready with nothing that must be durable before the loop goes on (no entries, no new term or
   * vote: at most a new commit index, which a member that loses it learns again from the leader).
   * Its entries are applied, and their clients answered, at once, and its hard state is not
   * written now but with the next write (the next Ready's entries, a snapshot, the stop), as
   * etcd's WAL writes a commit-only Ready only at its next sync: no LevelDB round trip on every
   * member for every commit, and the next Ready's appends are not held up by one. Its answers
   * speak only for entries that earlier, awaited Readys synced.
   */
  private handleUnsynced(rd: Ready): void {
    this.applyCommitted(rd);
    this.unwrittenHardState = rd.hardState ?? this.unwrittenHardState;
    this.parts.transport().send(rd.messagesAfterSync);
    if (this.parts.fsm.membershipDirty) this.land(this.persistMembership());
  }

  /**
   * Between Readys (never while a leader's snapshot is being installed), a snapshot of our own if
   * one is due, once the hard state held back is written, so that a delta's index does not pass
   * the commit index on disk. A new base takes its index when its walk ends, which may be after
   * later commit-only Readys (or, on a follower, amid a synced one): the data dir's load raises a
   * commit index behind the snapshot to the snapshot's (DiskStorage.load), which is what keeps
   * such a dir loadable after a crash.
   */
  private maybeSnapshot(): void {
    const { snapshots } = this.parts;
    if (!snapshots.due) return;
    if (this.unwrittenHardState !== undefined) this.land(this.writeHardState());
    if (this.landing === undefined) snapshots.maybeSnapshot();
  }

  private async writeHardState(): Promise<void> {
    const hardState = this.unwrittenHardState;
    if (hardState === undefined) return;
    this.unwrittenHardState = undefined;
    await this.parts.storage.persist({ entries: [], hardState, sync: false });
  }

  /** Follows a write the loop does not wait for; the loop is woken when it lands, and stops if it failed. */
  private land(write: Promise<void>): void {
    const landing: Promise<void> = write.then(
      () => {
        if (this.landing !== landing) return;
        this.landing = undefined;
        this.wake();
      },
      (error: unknown) => {
        this.writeFailure ??= { cause: error };
        if (this.landing === landing) this.landing = undefined;
        this.wake();
      },
    );
    this.landing = landing;
  }

  private async persistMembership(): Promise<void> {
    const { fsm, storage } = this.parts;
    if (!fsm.membershipDirty) return;
    fsm.membershipDirty = false;
    await storage.persist({ entries: [], membership: fsm.membership(), sync: false });
  }

  private leaderChanged(lead: number, role: string): void {
    this.lastLeader = lead;
    this.leaderChanges++;
    this.parts.log.info(lead === 0 ? 'no leader' : 'leader elected', { leader: formatId(lead), term: this.parts.core.basicStatus().term, role });
    if (lead === 0) return;
    // A proposal forwarded to the old leader may be lost: propose the waiting ones again.
    this.parts.proposals.proposeAgain();
    this.parts.membership.proposeAgain();
  }

  private async install(snapshot: Snapshot): Promise<void> {
    const state = this.checkedSnapshots.get(snapshot.data) ?? (await restoreSnapshotData(snapshot.data));
    this.checkedSnapshots.delete(snapshot.data);
    this.parts.fsm.restore(state, snapshot.meta.index);
    this.parts.snapshots.index = snapshot.meta.index;
    this.parts.log.info('installed a snapshot from the leader', { index: snapshot.meta.index });
  }

  private applyCommitted(rd: Ready): void {
    const { fsm, proposals, membership, reads } = this.parts;
    for (const entry of rd.committedEntries) {
      const result = fsm.apply(entry);
      if (result?.kind !== 'membership') {
        proposals.settle(result);
        continue;
      }
      membership.applied(result.key);
      if (result.removedSelf) this.parts.removed();
    }
    reads.confirmed(rd.readStates);
    reads.applied(fsm.appliedIndex);
  }

  private recordFsync(ms: number): void {
    this.fsyncMillis.push(ms);
    if (this.fsyncMillis.length > FSYNC_WINDOW) this.fsyncMillis = this.fsyncMillis.slice(-FSYNC_WINDOW / 2);
  }
}
