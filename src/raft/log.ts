import { CompactedError } from './errors.ts';
import type { Storage } from './storage.ts';
import { limitSize } from './storage.ts';
import type { Entry, Snapshot } from './types.ts';

/**
 * The log: the stable part in Storage and an unstable tail not yet reported durable.
 * Invariants: applied <= committed; committed <= lastIndex();
 * unstable entries start at `unstableOffset` and follow the stable part (or the snapshot).
 */
export class RaftLog {
  readonly storage: Storage;
  /** Entries not yet durable, from index unstableOffset. */
  unstableEntries: Entry[] = [];
  unstableOffset: number;
  /** A received snapshot not yet durable. */
  unstableSnapshot: Snapshot | undefined;
  committed: number;
  applied: number;
  maxApplyingSize: number;

  constructor(storage: Storage, maxApplyingSize: number) {
    this.storage = storage;
    this.unstableOffset = storage.lastIndex() + 1;
    this.committed = storage.firstIndex() - 1;
    this.applied = storage.firstIndex() - 1;
    this.maxApplyingSize = maxApplyingSize;
  }

  firstIndex(): number {
    return this.unstableSnapshot !== undefined ? this.unstableSnapshot.meta.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstableEntries.length > 0) return this.unstableOffset + this.unstableEntries.length - 1;
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.meta.index;
    return this.storage.lastIndex();
  }

  /** The term of entry i, or undefined when it is compacted away or past the end. */
  term(index: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (index < dummy || index > this.lastIndex()) return undefined;
    if (this.unstableSnapshot !== undefined && index === this.unstableSnapshot.meta.index) return this.unstableSnapshot.meta.term;
    if (index >= this.unstableOffset && this.unstableEntries.length > 0) return this.unstableEntries[index - this.unstableOffset]!.term;
    if (this.unstableSnapshot !== undefined) return undefined;
    try {
      return this.storage.term(index);
    } catch (error) {
      if (error instanceof CompactedError) return undefined;
      throw error;
    }
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Section 5.4.1: whether a log ending at (lastIndex, lastTerm) is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * A follower's append (section 5.3): if our entry at `index` has `logTerm`, append `entries` (dropping
   * ours from the first conflict on), commit up to min(commit, last new) and return the last new
   * index; otherwise undefined.
   */
  maybeAppend(index: number, logTerm: number, commit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      if (conflict <= this.committed) throw new Error(`raft log: entry ${conflict} conflicts with the committed entry ${this.committed}`);
      this.append(entries.slice(conflict - (index + 1)));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** The first entry whose term differs from ours, or the first new one; 0 if all match. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * Fast backtracking: the largest index <= `index` whose term is <= `term`, with its term. A
   * leader that skips to it avoids probing a whole term of entries one by one.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i >= 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0]!.index - 1;
    if (after < this.committed) throw new Error(`raft log: append after ${after} is below the commit index ${this.committed}`);
    this.truncateAndAppend(entries);
    return this.lastIndex();
  }

  private truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0]!.index;
    if (first === this.unstableOffset + this.unstableEntries.length) {
      for (const entry of entries) this.unstableEntries.push(entry);
    } else if (first <= this.unstableOffset) {
      // Replaces the whole unstable tail, and stable entries from `first` on.
      this.unstableOffset = first;
      this.unstableEntries = [...entries];
    } else {
      this.unstableEntries = [...this.unstableEntries.slice(0, first - this.unstableOffset), ...entries];
    }
  }

  /** Entries [lo, hi) from storage and the unstable tail, limited to maxSize (at least one). */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) throw new CompactedError(lo, this.firstIndex());
    let out: Entry[] = [];
    if (lo < this.unstableOffset) {
      const stableHi = Math.min(hi, this.unstableOffset);
      out = this.storage.entries(lo, stableHi, maxSize);
      if (out.length < stableHi - lo) return out;
    }
    if (hi > this.unstableOffset) {
      const from = Math.max(lo, this.unstableOffset) - this.unstableOffset;
      const unstable = this.unstableEntries.slice(from, hi - this.unstableOffset);
      out = out.length === 0 ? unstable : out.concat(unstable);
    }
    return limitSize(out, maxSize);
  }

  /** Entries from index i to the end; empty when i is past it. */
  entriesFrom(index: number, maxSize: number): Entry[] {
    return index > this.lastIndex() ? [] : this.slice(index, this.lastIndex() + 1, maxSize);
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) throw new Error(`raft log: commit ${index} is past the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Section 5.4.2: the leader commits only entries of its own term by counting replicas. */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    if (index > this.committed || index < this.applied) {
      throw new Error(`raft log: applied ${index} is outside [${this.applied}, ${this.committed}]`);
    }
    this.applied = index;
  }

  /** The committed entries not yet applied, up to maxApplyingSize bytes. */
  nextCommittedEntries(): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (lo > this.committed) return [];
    return this.slice(lo, this.committed + 1, this.maxApplyingSize);
  }

  /** Marks entries up to (index, term) durable: they leave the unstable tail. */
  stableTo(index: number, term: number): void {
    if (this.unstableEntries.length === 0 || index < this.unstableOffset) return;
    if (this.term(index) !== term) return; // replaced meanwhile: stays unstable
    const n = index - this.unstableOffset + 1;
    if (n > this.unstableEntries.length) return;
    this.unstableEntries = this.unstableEntries.slice(n);
    this.unstableOffset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.unstableSnapshot !== undefined && this.unstableSnapshot.meta.index === index) this.unstableSnapshot = undefined;
  }

  /** Replaces the log with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.meta.index;
    this.unstableOffset = snapshot.meta.index + 1;
    this.unstableEntries = [];
    this.unstableSnapshot = snapshot;
  }

  /** The snapshot to send a follower that is behind our first index. */
  snapshot(): Snapshot {
    return this.unstableSnapshot ?? this.storage.snapshot();
  }
}
