import type { NodeId } from '../raft/types.ts';

/** A member as the membership records it (and /v2/members shows it). */
export interface MemberInfo {
  readonly id: NodeId;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner?: boolean;
}
