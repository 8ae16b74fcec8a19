import type { NodeId } from '../raft/types.ts';
import type { DiskStorage } from '../storage/disk-storage.ts';
import { DataDirError } from '../storage/errors.ts';
import type { ServeConfig } from './config.ts';
import type { Logger } from './logger.ts';
import type { MemberEnv, Membership } from './member-env.ts';
import { checkMembership } from './member-fsm.ts';
import { clusterIdFor, formatId, memberIdFor } from './member-id.ts';
import type { MemberState } from './store-image.ts';
import { restoreImage } from './store-image.ts';

/** A member that cannot start with what it was given. */
export class StartError extends Error {}

/** Where a member starts from: its membership, its id, the peers a new cluster bootstraps with. */
export interface StartPoint {
  readonly membership: Membership;
  readonly id: NodeId;
  /** The voters of a cluster bootstrapped now; empty on a restart or a join. */
  readonly peers: readonly NodeId[];
  /** The state in the data dir's snapshot, if it has one. */
  readonly restored: MemberState<Membership> | undefined;
  /**
   * The membership the state machine starts from before the log is replayed. With no snapshot the
   * log is replayed from its first entry, so no id may count as removed yet: its addition (and
   * the store writes that go with it) would be skipped, and this member's store index would lag
   * the others' for good. The removals come back as they are replayed.
   */
  readonly replayFrom: Membership;
  /** Whether the data dir was empty. */
  readonly fresh: boolean;
}

/**
 * Start-up: a restart takes the membership recorded in the data dir; a new member joins an
 * existing cluster (asking its members) or bootstraps one from --initial-cluster. The data dir is
 * checked to belong to this member, and to hold what it acknowledged.
 */
export async function startPoint(config: ServeConfig, storage: DiskStorage, env: Pick<MemberEnv, 'join' | 'log' | 'clock'>): Promise<StartPoint> {
  const { log } = env;
  const restored = await loadSnapshot(storage, env);
  const fresh = storage.lastIndex() === 0 && storage.initialState().hardState.term === 0;
  const stored = storage.membership as Membership | undefined;
  let membership: Membership;
  let peers: NodeId[] = [];
  if (!fresh && stored !== undefined && stored.selfId !== undefined) {
    membership = stored;
  } else if (config.initialClusterState === 'existing') {
    membership = await env.join(config);
  } else {
    membership = bootstrap(config);
    peers = membership.members.map((m) => m.id);
  }
  if (fresh) await storage.persist({ entries: [], membership, sync: true });
  const id = membership.selfId!;
  const self = membership.members.find((m) => m.id === id);
  if (self !== undefined && !fresh && self.name !== '' && self.name !== config.name) {
    throw new StartError(`data dir ${config.dataDir} belongs to member "${self.name}" (id ${formatId(id)}) of cluster ${formatId(membership.clusterId)}, not to "${config.name}"; give this member its own --data-dir`);
  }
  if (self === undefined && !fresh) {
    throw new StartError(`this member (${config.name}, id ${formatId(id)}) was removed from cluster ${formatId(membership.clusterId)}; remove its data dir ${config.dataDir} and add it again to rejoin`);
  }
  checkLostEntries(storage, membership, log);
  return { membership, id, peers, restored, fresh, replayFrom: restored === undefined ? { ...membership, removed: [] } : membership };
}

/** A new cluster from --initial-cluster: ids from peer URLs and the cluster token, as etcd makes them. */
function bootstrap(config: ServeConfig): Membership {
  const members = [...config.initialCluster].map(([name, peerURLs]) => ({
    id: memberIdFor(peerURLs, config.initialClusterToken),
    name,
    peerURLs,
    clientURLs: name === config.name ? config.advertiseClientUrls : [],
  }));
  const selfId = memberIdFor(config.advertisePeerUrls, config.initialClusterToken);
  return { clusterId: clusterIdFor(members.map((m) => m.id), config.initialClusterToken), members, selfId };
}

/** The state in the data dir's snapshot, if it has one. */
async function loadSnapshot(storage: DiskStorage, { log, clock }: Pick<MemberEnv, 'log' | 'clock'>): Promise<MemberState<Membership> | undefined> {
  const started = clock.monotonic();
  const snapshot = await storage.loadSnapshot();
  let state: MemberState<Membership> | undefined;
  try {
    if (snapshot.kind === 'image') state = await restoreImage<Membership>(snapshot.head, snapshot.records);
    if (state !== undefined) checkMembership(state.membership);
  } catch (error) {
    if (error instanceof DataDirError) throw error;
    throw new DataDirError(storage.dir, `its snapshot cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (state !== undefined) {
    const shape = storage.imageShape;
    log.info('snapshot loaded', { index: storage.snapshot().meta.index, pages: shape.pages, deltas: shape.deltas, loadMs: Math.round(clock.monotonic() - started) });
  }
  return state;
}

/**
 * A data dir that lost entries this member had acknowledged (its hard state commits past them):
 * a single voter cannot get them back from anyone and refuses to start; in a cluster the member
 * starts, and votes only once a leader has caught it up (RaftConfig.catchUpTo).
 */
function checkLostEntries(storage: DiskStorage, membership: Membership, log: Logger): void {
  if (storage.catchUpTo === 0) return;
  const voters = membership.members.filter((m) => m.isLearner !== true).length;
  const lost = `its hard state commits index ${storage.catchUpTo}, but it holds entries only up to ${storage.lastIndex()}: entries this member acknowledged are lost`;
  if (voters <= 1) throw new DataDirError(storage.dir, `${lost}, and a single member cannot get them back from anyone: restore the data dir from a backup`);
  log.warn('data dir lost entries this member acknowledged: it will not vote or campaign until the leader has caught it up', { dataDir: storage.dir, committed: storage.catchUpTo, lastIndex: storage.lastIndex() });
}
