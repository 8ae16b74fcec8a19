import type { NodeId } from '../raft/types.ts';
import { ErrorCodes, StoreError } from '../store/store-error.ts';
import type { ApplyResult, Outcome } from './member-fsm.ts';
import type { Clock, Timers } from './member-env.ts';
import { formatId } from './member-id.ts';

/** The error etcd answers when a request cannot complete in time (no leader, lost quorum). */
export function timeoutError(index: number): StoreError {
  return new StoreError(ErrorCodes.RaftInternal, 'etcdserver: request timed out', index);
}

/** What etcd answers a request in flight when the server stops under it. */
export function stoppedError(index: number): StoreError {
  return new StoreError(ErrorCodes.RaftInternal, 'etcdserver: server stopped', index);
}

interface Pending {
  readonly resolve: (outcome: Outcome) => void;
  readonly reject: (error: unknown) => void;
  /** The proposal, kept to propose again if a leader change may have lost it. */
  readonly data: Uint8Array;
}

/** How often a proposal the core dropped (no leader yet) is tried again. */
export const RETRY_MS = 50;

export interface ProposalsDeps {
  readonly selfId: NodeId;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: () => number;
  readonly timeoutMs: number;
  /** Proposes to the core: false when it dropped the proposal (try again). */
  readonly propose: (data: Uint8Array) => boolean;
  /** Whether the member still runs (after a fail-stop or stop, nothing is tried again). */
  readonly running: () => boolean;
  /** The store index now, for the index an error answer carries. */
  readonly storeIndex: () => number;
}

/**
 * The writes this member proposed and waits to apply, by request id. A proposal is tried until the
 * core takes it (or the request times out), and proposed again after a leader change, since a
 * proposal forwarded to the old leader may be lost: the state machine applies an id once.
 */
export class Proposals {
  private readonly deps: ProposalsDeps;
  private readonly pending = new Map<string, Pending>();
  private sequence = 0;
  /** The prefix of this member's request ids: unique across members and restarts. */
  private readonly idPrefix: string;
  failed = 0;

  constructor(deps: ProposalsDeps) {
    this.deps = deps;
    const bootId = `${deps.clock.now().toString(36)}${Math.floor(deps.random() * 1e9).toString(36)}`;
    this.idPrefix = `${formatId(deps.selfId)}-${bootId}-`;
  }

  get size(): number {
    return this.pending.size;
  }

  /** A new request id (a repeated id would be skipped as a duplicate). */
  nextId(): string {
    return `${this.idPrefix}${++this.sequence}`;
  }

  /** Proposes `data`, known by `id` when applied; resolves with what applying it gave. */
  propose<T extends Outcome>(id: string, data: Uint8Array): Promise<T> {
    const { timers, timeoutMs } = this.deps;
    return new Promise<T>((resolve, reject) => {
      const cancel = timers.after(timeoutMs, () => {
        if (!this.pending.delete(id)) return;
        this.failed++;
        reject(timeoutError(this.deps.storeIndex()));
      });
      this.pending.set(id, {
        data,
        resolve: (outcome) => {
          cancel();
          // The state machine answers each id with the kind its payload gives.
          resolve(outcome as T);
        },
        reject: (error) => {
          cancel();
          reject(error);
        },
      });
      this.proposeUntilAccepted(data);
    });
  }

  /** Proposes, trying again while there is no leader to take it (until the request's time is up). */
  proposeUntilAccepted(data: Uint8Array, deadline = this.deps.clock.monotonic() + this.deps.timeoutMs): void {
    if (!this.deps.running()) return;
    if (this.deps.propose(data) || this.deps.clock.monotonic() >= deadline) return;
    this.deps.timers.after(RETRY_MS, () => this.proposeUntilAccepted(data, deadline));
  }

  /** A new leader: the waiting proposals may have been lost with the old one (applying skips any that made it). */
  proposeAgain(): void {
    for (const waiter of this.pending.values()) this.proposeUntilAccepted(waiter.data);
  }

  /** Answers the request an applied entry belongs to, if this member proposed it. */
  settle(result: ApplyResult): void {
    if (result === undefined || result.kind === 'membership') return;
    const waiter = this.pending.get(result.id);
    if (waiter === undefined) return;
    this.pending.delete(result.id);
    if (result.kind === 'request') waiter.resolve(result.outcome);
    else waiter.reject(result.error);
  }

  failAll(error: unknown): void {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
