import type { Message, NodeId } from '../raft/types.ts';
import type { MemberInfo } from './member-info.ts';

/** What the peer transport needs from its member. */
export interface TransportHost {
  readonly id: NodeId;
  readonly clusterId: number;
  /** The member's data dir: a snapshot being received is written there. */
  readonly dataDir: string;
  /** The member's current Raft term. */
  readonly term: number;
  /** The index of the last entry in the member's Raft log. */
  readonly lastIndex: number;
  /**
   * Whether messages from `from` may reach Raft: a member's, or a sender's that is not removed and
   * gives its peer URLs (a member added while this one was down: see PeerRemotes).
   */
  admits(from: NodeId, peerURLs: readonly string[] | undefined): boolean;
  /** Rejects unless a snapshot's data restores (before its message may reach Raft). */
  checkSnapshot(data: Uint8Array): Promise<void>;
  /** A member's peer URLs, or an admitted sender's. */
  peerUrlsOf(id: NodeId): readonly string[] | undefined;
  receive(messages: readonly Message[]): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, succeeded: boolean): void;
  /** The data of the snapshot at `index`, read from the data dir; rejects if that is no longer the one. */
  snapshotImage(index: number): Promise<Uint8Array>;
  /** The members, for a member joining with --initial-cluster-state existing (and proxies). */
  memberList(): Iterable<MemberInfo>;
  /** Whether `id` was removed from the cluster (its messages get 410 Gone). */
  isRemoved(id: NodeId): boolean;
  /** A peer answered 410 Gone to this member. */
  removedByPeer(): void;
}
