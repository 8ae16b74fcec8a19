import { CompactedError, SnapshotTemporarilyUnavailableError } from './errors.ts';
import type { ConfState, Entry, HardState, Snapshot } from './types.ts';
import { EMPTY_HARD_STATE } from './types.ts';

/**
 * The stable log as the core reads it: synchronous. The driver writes to it (append, hard state,
 * snapshot) before it calls `advance()`. src/storage backs this with classic-level.
 */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries [lo, hi), at least one if any, at most `maxSize` bytes of data beyond the first. */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /** The term of entry i, for firstIndex()-1 <= i <= lastIndex(); throws CompactedError below. */
  term(index: number): number;
  lastIndex(): number;
  firstIndex(): number;
  /** The latest snapshot; may throw SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot;
}

export const EMPTY_CONF_STATE: ConfState = { voters: [], learners: [] };

export const EMPTY_SNAPSHOT: Snapshot = { meta: { index: 0, term: 0, confState: EMPTY_CONF_STATE }, data: new Uint8Array(0) };

/** Sums data sizes and keeps at least one entry: the rule for message and batch limits. */
export function limitSize(entries: Entry[], maxSize: number): Entry[] {
  if (entries.length === 0) return entries;
  let size = entries[0]!.data.length;
  let n = 1;
  for (; n < entries.length; n++) {
    size += entries[n]!.data.length;
    if (size > maxSize) break;
  }
  return n === entries.length ? entries : entries.slice(0, n);
}

/**
 * Storage in memory. `ents[0]` is a dummy entry holding the snapshot's index and term, so that
 * term(firstIndex - 1) answers. Used by tests, the simulator and the benchmark.
 */
export class MemoryStorage implements Storage {
  hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  private ents: Entry[] = [{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.meta.confState };
  }

  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  private get offset(): number {
    return this.ents[0]!.index;
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    if (lo <= this.offset) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new RangeError(`entries(${lo}, ${hi}) past the last index ${this.lastIndex()}`);
    return limitSize(this.ents.slice(lo - this.offset, hi - this.offset), maxSize);
  }

  term(index: number): number {
    if (index < this.offset) throw new CompactedError(index, this.firstIndex());
    if (index - this.offset >= this.ents.length) throw new RangeError(`term(${index}) past the last index ${this.lastIndex()}`);
    return this.ents[index - this.offset]!.term;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Loads durable state (a restart): the snapshot and the entries kept on disk, which start at or
   * before snapshot index + 1. The first kept entry at or below the snapshot becomes the dummy.
   */
  load(snapshot: Snapshot, entries: readonly Entry[], hardState: HardState): void {
    this.snap = snapshot;
    this.hardState = hardState;
    const first = entries[0];
    if (first === undefined || first.index > snapshot.meta.index || entries[entries.length - 1]!.index < snapshot.meta.index) {
      const after = entries.filter((e) => e.index > snapshot.meta.index);
      this.ents = [{ term: snapshot.meta.term, index: snapshot.meta.index, type: 'normal', data: new Uint8Array(0) }, ...after];
      return;
    }
    this.ents = [{ term: first.term, index: first.index, type: 'normal', data: new Uint8Array(0) }, ...entries.slice(1)];
  }

  /** Replaces the log with a snapshot (a follower receiving one). Older snapshots are ignored. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.snap.meta.index) return;
    this.snap = snapshot;
    this.ents = [{ term: snapshot.meta.term, index: snapshot.meta.index, type: 'normal', data: new Uint8Array(0) }];
  }

  /** Records a snapshot of the state machine at `index` (which must be in the log). */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) throw new SnapshotTemporarilyUnavailableError();
    this.snap = { meta: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  /** Drops entries before `compactIndex` (it stays as the dummy). */
  compact(compactIndex: number): void {
    if (compactIndex <= this.offset) return;
    if (compactIndex > this.lastIndex()) throw new RangeError(`compact(${compactIndex}) past the last index ${this.lastIndex()}`);
    const i = compactIndex - this.offset;
    const dummy = this.ents[i]!;
    this.ents = this.ents.slice(i);
    this.ents[0] = { term: dummy.term, index: dummy.index, type: 'normal', data: new Uint8Array(0) };
  }

  /** Appends entries, replacing any that conflict. Entries older than the snapshot are ignored. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    let ents = entries;
    if (ents[ents.length - 1]!.index < first) return;
    if (ents[0]!.index < first) ents = ents.slice(first - ents[0]!.index);
    const offset = ents[0]!.index - this.offset;
    if (offset > this.ents.length) throw new RangeError(`append: gap before index ${ents[0]!.index} (last ${this.lastIndex()})`);
    // Truncate any conflicting tail, then append in place (no copy of the whole log).
    this.ents.length = offset;
    for (const entry of ents) this.ents.push(withOwnData(entry));
  }
}

/**
 * The entry with data in a buffer of its own. Data is often a view into a much larger buffer (a
 * 64 KiB chunk of Node's Buffer pool, which allocUnsafe slices small buffers from; a peer frame):
 * an entry kept in the log for thousands of indexes would pin all of it. A member holding its
 * log after 100,000 writes pinned ~25 MiB of pool chunks for ~3 MiB of entries.
 */
function withOwnData(entry: Entry): Entry {
  const data = entry.data;
  if (data.byteLength === data.buffer.byteLength) return entry;
  return { ...entry, data: new Uint8Array(data) };
}
