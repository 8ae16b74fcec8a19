import type { ConfChange, ConfChangeType, ConfState, Entry, NodeId } from '../raft/types.ts';
import { decodeImage } from '../storage/image.ts';
import type { StoreEvent } from '../store/event.ts';
import { storeHeader } from '../store/snapshot.ts';
import { Store } from '../store/store.ts';
import { StoreError } from '../store/store-error.ts';
import type { TxnOutcome } from '../store/transaction.ts';
import { TxnOperationError } from '../store/transaction.ts';
import type { AuthOutcome } from './auth-state.ts';
import { AuthState } from './auth-state.ts';
import { applyCommand, applyTxnCommand } from './keys-command.ts';
import type { Logger } from './logger.ts';
import type { Membership } from './member-env.ts';
import { formatId } from './member-id.ts';
import type { MemberInfo } from './member-info.ts';
import { decodeMemberChange, decodeMemberInfo, decodePayload } from './payload.ts';
import type { BackupView } from './snapshot-backup.ts';
import type { MemberState } from './store-image.ts';
import { restoreImage } from './store-image.ts';

/** A write's outcome: the event (or the store's error) and the store index right after it. */
export interface Applied {
  readonly event: StoreEvent;
  readonly etcdIndex: number;
}

/** A transaction's outcome and the store index right after it. */
export interface AppliedTxn {
  readonly outcome: TxnOutcome;
  readonly etcdIndex: number;
}

export type Outcome = Applied | AppliedTxn | AuthOutcome;

/**
 * What applying one entry gives the member to answer: a request's outcome or its refusal (by the
 * request's id), or a membership change (by "<type>:<id>"); nothing for the other entries.
 */
export type ApplyResult =
  | { readonly kind: 'request'; readonly id: string; readonly outcome: Outcome }
  | { readonly kind: 'refused'; readonly id: string; readonly error: Error }
  | { readonly kind: 'membership'; readonly key: string; readonly removedSelf: boolean }
  | undefined;

/**
 * How many entries back a request id is remembered. A write proposed again after a leader change
 * is applied once: every member skips an id it applied within this window (a rule that depends
 * only on the log, so all members decide alike).
 */
const DEDUPE_WINDOW = 10_000;

/**
 * The state machine Raft's committed entries are applied to (hashicorp/raft's FSM): the v2 store,
 * users and roles, the membership, and the request ids recently applied. Apply depends only on
 * the entries, so every member that applies the same log holds the same state; snapshot and
 * restore give and take all of it.
 */
export class MemberFsm {
  readonly selfId: NodeId;
  readonly clusterId: number;
  store = new Store();
  auth = new AuthState();
  members = new Map<NodeId, MemberInfo>();
  removedIds = new Set<NodeId>();
  /** Request id -> index it was applied at, for the last DEDUPE_WINDOW entries. */
  private appliedIds = new Map<string, number>();
  /** Index of the last entry applied (or of the snapshot the state came from); never goes back. */
  appliedIndex: number;
  /** The membership changed since it was last persisted. */
  membershipDirty = false;
  /** Requests applied (on every member, whoever proposed them). */
  committed = 0;
  /** Called when a snapshot replaces the store: open watches end. */
  readonly storeReplacedListeners = new Set<() => void>();
  private readonly applyConfState: (change: ConfChange) => ConfState;
  private readonly log: Logger;

  constructor(selfId: NodeId, membership: Membership, appliedIndex: number, applyConfState: (change: ConfChange) => ConfState, log: Logger) {
    this.selfId = selfId;
    this.clusterId = membership.clusterId;
    this.appliedIndex = appliedIndex;
    this.applyConfState = applyConfState;
    this.log = log;
    for (const m of membership.members) this.members.set(m.id, m);
    for (const id of membership.removed ?? []) this.removedIds.add(id);
    this.store.trackChanges();
  }

  /** Applies one committed entry (once: an index at or below appliedIndex is skipped). */
  apply(entry: Entry): ApplyResult {
    if (entry.index <= this.appliedIndex) return undefined;
    this.appliedIndex = entry.index;
    if (entry.type === 'confChange') return this.applyConfChange(entry);
    if (entry.data.length === 0) return undefined;
    const payload = this.decodeOrSkip(entry, decodePayload);
    if (payload === undefined) return undefined;
    switch (payload.kind) {
      case 'keys':
        return this.applyOnce(payload.id, entry.index, () => ({ event: applyCommand(this.store, payload.command), etcdIndex: this.store.index }), StoreError);
      case 'txn':
        return this.applyOnce(payload.id, entry.index, () => ({ outcome: applyTxnCommand(this.store, payload.command), etcdIndex: this.store.index }), TxnOperationError);
      case 'auth':
        return this.applyOnce(payload.id, entry.index, () => this.auth.apply(payload.command), undefined);
      case 'expire':
        // The leader's clock, proposed: every member expires the same keys at the same entry.
        this.store.deleteExpiredKeys(payload.time);
        return undefined;
      case 'updatePeers':
        this.store.recordHiddenWrite(`/0/members/${formatId(payload.member)}/raftAttributes`);
        this.updateMember(payload.member, { peerURLs: payload.peerURLs });
        return { kind: 'membership', key: `update:${payload.member}`, removedSelf: false };
      case 'attributes':
        this.updateMember(payload.member, { name: payload.name, clientURLs: payload.clientURLs });
        return undefined;
    }
  }

  /**
   * Applies the entry of request `id` once (an id applied within the dedupe window is skipped, on
   * every member alike). An error of the `refused` kind is the request's answer; any other means
   * apply is broken, and goes on up (fail-stop).
   */
  private applyOnce(id: string, index: number, apply: () => Outcome, refused: (abstract new (...args: never[]) => Error) | undefined): ApplyResult {
    if (this.appliedIds.has(id)) return undefined;
    this.rememberId(id, index);
    try {
      const outcome = apply();
      this.committed++;
      return { kind: 'request', id, outcome };
    } catch (error) {
      if (refused !== undefined && error instanceof refused) return { kind: 'refused', id, error };
      throw error;
    }
  }

  private rememberId(id: string, index: number): void {
    this.appliedIds.set(id, index);
    // Prune in batches: ids are in index order, so the oldest come first.
    if (this.appliedIds.size <= DEDUPE_WINDOW * 1.2) return;
    for (const [old, at] of this.appliedIds) {
      if (at > index - DEDUPE_WINDOW) break;
      this.appliedIds.delete(old);
    }
  }

  private updateMember(id: NodeId, change: Partial<MemberInfo>): void {
    const known = this.members.get(id);
    if (known === undefined) return;
    this.members.set(id, { ...known, ...change });
    this.membershipDirty = true;
  }

  /**
   * A malformed entry is refused from peers, so one in the log is damage: every member skips it
   * alike (the decision depends only on the entry) rather than stop at it on every restart.
   */
  private decodeOrSkip<T>(entry: Entry, decode: (data: Uint8Array) => T): T | undefined {
    try {
      return decode(entry.data);
    } catch (error) {
      this.log.error('skipped a malformed log entry', { index: entry.index, type: entry.type, error: error instanceof Error ? error.message : String(error) });
      return undefined;
    }
  }

  private applyConfChange(entry: Entry): ApplyResult {
    const decoded = this.decodeOrSkip(entry, decodeMemberChange);
    if (decoded === undefined) return undefined;
    const { change, member } = decoded;
    // A removed id never comes back (a late duplicate of its addition is ignored), as in etcd.
    if (change.type !== 'removeNode' && this.removedIds.has(change.nodeId)) return undefined;
    const promotion = change.type === 'addNode' && this.members.get(change.nodeId)?.isLearner === true;
    this.applyConfState(change);
    if (change.type === 'removeNode') {
      this.members.delete(change.nodeId);
      this.removedIds.add(change.nodeId);
    } else if (member !== undefined) {
      this.members.set(change.nodeId, member);
    } else {
      const known = this.members.get(change.nodeId);
      if (known !== undefined) this.members.set(change.nodeId, { ...known, isLearner: change.type === 'addLearner' });
    }
    this.membershipDirty = true;
    recordMembershipWrites(this.store, promotion ? 'promote' : change.type, change.nodeId, entry.index);
    this.log.info('membership changed', { change: change.type, member: formatId(change.nodeId), index: entry.index });
    return { kind: 'membership', key: `${change.type}:${change.nodeId}`, removedSelf: change.type === 'removeNode' && change.nodeId === this.selfId };
  }

  membership(): Membership {
    return { clusterId: this.clusterId, members: [...this.members.values()], selfId: this.selfId, removed: [...this.removedIds] };
  }

  /** What a snapshot holds: the membership, the recently applied request ids, the store, auth. */
  state(): MemberState<Membership> {
    return { membership: this.membership(), appliedIds: this.appliedIds, store: this.store, auth: this.auth };
  }

  /** Takes over a state restored from a snapshot taken at `index`; open watches end. */
  restore(state: MemberState<Membership>, index: number): void {
    this.members = new Map(state.membership.members.map((m) => [m.id, m]));
    this.removedIds = new Set(state.membership.removed ?? []);
    this.appliedIds = state.appliedIds;
    this.store = state.store;
    this.auth = state.auth;
    this.appliedIndex = index;
    this.store.trackChanges();
    for (const listener of this.storeReplacedListeners) listener();
  }

  /**
   * The whole state as applied now, for a backup (GET /v2/kvd/snapshot): a walk of the store
   * that keeps showing this moment while writes go on, and what goes with it, taken in one turn.
   */
  backupView(term: number, name: string): BackupView {
    const store = this.store;
    return { read: store.snapshotRead(), store: storeHeader(store), keys: store.countKeys(), raftIndex: this.appliedIndex, term, clusterId: this.clusterId, name, membership: this.membership(), auth: this.auth.toImage() };
  }
}

/** The state in a snapshot's data (from a leader); throws if it does not restore. */
export async function restoreSnapshotData(data: Uint8Array): Promise<MemberState<Membership>> {
  const image = decodeImage(data);
  const state = await restoreImage<Membership>(image.head, [image.records]);
  checkMembership(state.membership);
  return state;
}

/** A snapshot's membership record, checked field by field (a snapshot comes from a peer or a disk). */
export function checkMembership(value: unknown): void {
  const membership = value as Partial<Membership> | null;
  if (typeof membership !== 'object' || membership === null || !Array.isArray(membership.members) || (membership.removed !== undefined && !Array.isArray(membership.removed))) {
    throw new RangeError('snapshot: the membership is malformed');
  }
  for (const member of membership.members) decodeMemberInfo(member);
  for (const id of membership.removed ?? []) if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError('snapshot: the membership is malformed');
}

/**
 * The store indexes a membership change takes, as in etcd, whose membership lives in its v2 store:
 * so that a fresh single member's first write gets index 4, as etcd's does (member added, its
 * attributes published, cluster version set). An addition also stands for the member's first
 * publication of its name and client URLs, which etcd writes when the member starts: counted here,
 * at a point of the log every member agrees on, not when kvd's attributes entry comes (a member
 * proposes one again on a restart, or not, as timing has it). The first entry of a new cluster's
 * log stands for the cluster version too, which etcd sets once its first leader is up. A promotion
 * rewrites the member; a removal deletes it and records it as removed.
 */
function recordMembershipWrites(store: Store, type: ConfChangeType | 'promote', id: NodeId, entryIndex: number): void {
  const member = `/0/members/${formatId(id)}`;
  if (type === 'removeNode') {
    store.recordHiddenWrite(member);
    store.recordHiddenWrite(`/0/removed_members/${formatId(id)}`);
    return;
  }
  store.recordHiddenWrite(`${member}/raftAttributes`);
  if (type === 'promote') return;
  store.recordHiddenWrite(`${member}/attributes`);
  if (entryIndex === 1) store.recordHiddenWrite('/0/version');
}
