import type { Ready } from '../raft/raw-node.ts';
import type { Snapshot } from '../raft/types.ts';
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
    while (this.running) {
      if (!core.hasReady()) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        continue;
      }
      const rd = core.ready();
      await this.handle(rd);
      core.advance(rd);
      core.campaignIfAlone();
    }
  }

  private async handle(rd: Ready): Promise<void> {
    const { storage, snapshots, clock, fsm } = this.parts;
    if (rd.softState !== undefined && rd.softState.lead !== this.lastLeader) this.leaderChanged(rd.softState.lead, rd.softState.role);
    // The leader's appends go out while its own write is still being synced.
    this.parts.transport().send(rd.messages);
    // A snapshot from the leader replaces the log: never while one of our own is being saved.
    if (rd.snapshot !== undefined) await snapshots.idle();
    const started = clock.monotonic();
    const persisted = storage.persist({
      entries: rd.entries,
      ...(rd.hardState !== undefined ? { hardState: rd.hardState } : {}),
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
    if (rd.mustSync) this.recordFsync(clock.monotonic() - started);
    this.parts.transport().send(rd.messagesAfterSync);
    if (fsm.membershipDirty) {
      fsm.membershipDirty = false;
      await storage.persist({ entries: [], membership: fsm.membership(), sync: false });
    }
    snapshots.maybeSnapshot();
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
