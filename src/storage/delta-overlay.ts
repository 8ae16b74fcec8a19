/** A key that must pass more places than this, in a table at most half full, means keys chosen to collide: index by string. */
const MAX_PROBE = 64;
const FIRST_CAPACITY = 1024;

interface Slot {
  readonly key: Buffer;
  readonly hash: number;
  value: Buffer | null;
  taken: boolean;
}

/**
 * The records of an image's deltas by key, for merging them into its base pages (mergeImage): the
 * latest value of each key (null: removed), each taken at most once, then the ones never taken in
 * the order their keys first appeared.
 *
 * Why not a Map keyed by the key as a string: V8 (Node 26) internalizes every string used as a Map
 * key, a lookup in the process-wide string table per key, and the merge looked up every key of
 * the base: 1.1 s of a 1,000,000-key restart. Here a key's bytes are hashed in JS (FNV-1a) into
 * an open-addressing table of slot numbers (an Int32Array, linear probing, at most half full): no
 * string and no object per lookup. The hash is not seeded: keys chosen to share one (a client
 * could compute them) would make probes long, so an insert or a lookup that must pass more than
 * MAX_PROBE taken places turns the index into a Map keyed by string, V8's own seeded hashing.
 */
export class DeltaOverlay {
  private readonly slots: Slot[] = [];
  private table: Int32Array | null = new Int32Array(FIRST_CAPACITY);
  private byString: Map<string, Slot> | null = null;

  get size(): number {
    return this.slots.length;
  }

  /** Records the latest value of `key` (null: removed). */
  set(key: Buffer, value: Buffer | null): void {
    const hash = hashBytes(key);
    const found = this.find(key, hash);
    if (found !== undefined) {
      found.value = value;
      return;
    }
    const slot: Slot = { key, hash, value, taken: false };
    this.slots.push(slot);
    this.index(slot, this.slots.length);
  }

  /** The latest record of `key` if the deltas have one not taken yet, taken now. */
  take(key: Buffer): Slot | undefined {
    const slot = this.find(key, hashBytes(key));
    if (slot === undefined || slot.taken) return undefined;
    slot.taken = true;
    return slot;
  }

  /** The records never taken, removals left out, in the order their keys first appeared. */
  *untaken(): Generator<readonly [Buffer, Buffer]> {
    for (const slot of this.slots) if (!slot.taken && slot.value !== null) yield [slot.key, slot.value];
  }

  /** The slot of `key`; a lookup that must pass more than MAX_PROBE taken places moves the index to strings first. */
  private find(key: Buffer, hash: number): Slot | undefined {
    if (this.byString === null) {
      const table = this.table!;
      const mask = table.length - 1;
      let at = hash & mask;
      for (let probe = 0; table[at] !== 0 && probe < MAX_PROBE; probe++, at = (at + 1) & mask) {
        const slot = this.slots[table[at]! - 1]!;
        if (slot.hash === hash && slot.key.equals(key)) return slot;
      }
      if (table[at] === 0) return undefined;
      // A run of taken places as long as this (keys chosen to fill it) would make every lookup
      // that starts in it walk it: the string index bounds each one.
      this.indexByString();
    }
    return this.byString!.get(key.toString('latin1'));
  }

  /** Puts slot number `number` (its place in `slots`, from 1) into the index. */
  private index(slot: Slot, number: number): void {
    if (this.byString === null && 2 * this.slots.length > this.table!.length) this.grow();
    if (this.byString !== null) {
      this.byString.set(slot.key.toString('latin1'), slot);
      return;
    }
    if (!this.place(this.table!, slot.hash, number)) this.indexByString();
  }

  /** Writes `number` at the first free place from `hash`; false if the probe ran past MAX_PROBE. */
  private place(table: Int32Array, hash: number, number: number): boolean {
    const mask = table.length - 1;
    let at = hash & mask;
    for (let probe = 0; table[at] !== 0; probe++) {
      if (probe >= MAX_PROBE) return false;
      at = (at + 1) & mask;
    }
    table[at] = number;
    return true;
  }

  private grow(): void {
    const table = new Int32Array(this.table!.length * 2);
    // The slot being added is listed already; index() places it after.
    for (let i = 0; i < this.slots.length - 1; i++) {
      if (!this.place(table, this.slots[i]!.hash, i + 1)) {
        this.indexByString();
        return;
      }
    }
    this.table = table;
  }

  private indexByString(): void {
    this.byString = new Map();
    for (const slot of this.slots) this.byString.set(slot.key.toString('latin1'), slot);
    this.table = null;
  }
}

/** FNV-1a over the bytes, cut to 30 bits so that V8 keeps it a small integer. */
export function hashBytes(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash & 0x3fffffff;
}
