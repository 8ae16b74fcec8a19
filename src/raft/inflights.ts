/**
 * The append messages in flight to one follower, as a ring of their last indexes: a full ring
 * pauses replication to it (flow control). Acknowledging index i frees every message up to i.
 */
export class Inflights {
  readonly capacity: number;
  private readonly buffer: number[];
  private start = 0;
  private count = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.buffer = new Array<number>(capacity).fill(0);
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Records a message whose last entry is `index`; indexes must grow. Throws when full. */
  add(index: number): void {
    if (this.full) throw new Error('inflights: add to a full window');
    this.buffer[(this.start + this.count) % this.capacity] = index;
    this.count++;
  }

  /** Frees every message whose last index is <= `index`. */
  freeLE(index: number): void {
    while (this.count > 0 && this.buffer[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}
