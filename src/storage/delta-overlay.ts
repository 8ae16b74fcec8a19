/** A chain of keys longer than this in one hash means keys chosen to collide: index by string instead. */
const MAX_CHAIN = 32;

interface Slot {
  readonly key: Buffer;
  value: Buffer | null;
  taken: boolean;
  next: Slot | undefined;
}

/**
 * The records of an image's deltas by key, for merging them into its base pages (mergeImage): the
 * latest value of each key (null: removed), each taken at most once, then the ones never taken in
 * the order their keys first appeared.
 *
 * Why not a Map keyed by the key as a string: V8 (Node 26) internalizes every string used as a Map
 * key, a lookup in the process-wide string table per key, and the merge looked up every key of
 * the base: 1.1 s of a 1,000,000-key restart. Here a key's bytes are hashed in JS (FNV-1a) into
 * a Map with small-integer keys, keys sharing a hash chained. The hash is not seeded: keys chosen
 * to share one (a client could find them) would make a chain long, so a chain longer than
 * MAX_CHAIN turns the index into a Map keyed by string, V8's own seeded hashing.
 */
export class DeltaOverlay {
  private readonly order: Slot[] = [];
  private byHash: Map<number, Slot> | null = new Map();
  private byString: Map<string, Slot> | null = null;

  get size(): number {
    return this.order.length;
  }

  /** Records the latest value of `key` (null: removed). */
  set(key: Buffer, value: Buffer | null): void {
    const found = this.find(key);
    if (found !== undefined) {
      found.value = value;
      return;
    }
    const slot: Slot = { key, value, taken: false, next: undefined };
    this.order.push(slot);
    this.index(slot);
  }

  /** The latest record of `key` if the deltas have one not taken yet, taken now. */
  take(key: Buffer): Slot | undefined {
    const slot = this.find(key);
    if (slot === undefined || slot.taken) return undefined;
    slot.taken = true;
    return slot;
  }

  /** The records never taken, removals left out, in the order their keys first appeared. */
  *untaken(): Generator<readonly [Buffer, Buffer]> {
    for (const slot of this.order) if (!slot.taken && slot.value !== null) yield [slot.key, slot.value];
  }

  private find(key: Buffer): Slot | undefined {
    if (this.byString !== null) return this.byString.get(key.toString('latin1'));
    for (let slot = this.byHash!.get(hashBytes(key)); slot !== undefined; slot = slot.next) if (slot.key.equals(key)) return slot;
    return undefined;
  }

  private index(slot: Slot): void {
    if (this.byString !== null) {
      this.byString.set(slot.key.toString('latin1'), slot);
      return;
    }
    const hash = hashBytes(slot.key);
    slot.next = this.byHash!.get(hash);
    this.byHash!.set(hash, slot);
    let length = 0;
    for (let s: Slot | undefined = slot; s !== undefined; s = s.next) length++;
    if (length > MAX_CHAIN) this.indexByString();
  }

  private indexByString(): void {
    this.byString = new Map();
    for (const slot of this.order) this.byString.set(slot.key.toString('latin1'), slot);
    this.byHash = null;
  }
}

/** FNV-1a over the bytes, cut to 30 bits so that V8 keeps it a small integer. */
export function hashBytes(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash & 0x3fffffff;
}
