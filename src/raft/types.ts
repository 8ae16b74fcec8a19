/** Member ids: positive safe integers (0 means "none"). */
export type NodeId = number;
export const NONE: NodeId = 0;

export type EntryType = 'normal' | 'confChange';

/** A log entry. Invariant: entries in a log have consecutive indexes and non-decreasing terms. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before a vote is answered or an append acknowledged. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NONE, commit: 0 };

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export type ConfChangeType = 'addNode' | 'removeNode' | 'addLearner';

/** One membership change. addNode on a learner promotes it. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  /** Opaque to Raft: the server puts the member's URLs here. */
  readonly context?: string;
}

export type MessageType =
  | 'hup' // local: start an election
  | 'beat' // local: send heartbeats
  | 'checkQuorum' // local: leader checks it heard from a quorum
  | 'prop'
  | 'app'
  | 'appResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'snap'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'unreachable'
  | 'snapStatus'
  | 'transferLeader'
  | 'timeoutNow'
  | 'readIndex'
  | 'readIndexResp';

export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** app: term of the entry before `entries`; appResp reject: the hint's term; votes: last log term. */
  readonly logTerm: number;
  /** app: index before `entries`; appResp: the follower's last matching index; votes: last log index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly snapshot?: Snapshot;
  readonly reject: boolean;
  readonly rejectHint: number;
  /** ReadIndex request id; heartbeat round id. */
  readonly context: string;
}

/** A finished ReadIndex: the read with this context may be served once applied >= index. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

export type StateRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  readonly lead: NodeId;
  readonly role: StateRole;
}

/** Builds a message with defaults for the fields a kind does not use. */
export function message(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    from: NONE,
    to: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: '',
    ...fields,
  };
}

/** Whether the message is only ever stepped on the local node (never sent). */
export function isLocalMessage(type: MessageType): boolean {
  return type === 'hup' || type === 'beat' || type === 'checkQuorum' || type === 'unreachable' || type === 'snapStatus';
}

