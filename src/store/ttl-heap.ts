import type { TreeNode } from './node.ts';

/**
 * A binary min-heap of nodes by expireTime (then createdIndex). Each node knows its position
 * (heapIndex), so update and remove are O(log n).
 */
export class TtlHeap {
  private readonly items: TreeNode[] = [];

  get size(): number {
    return this.items.length;
  }

  top(): TreeNode | undefined {
    return this.items[0];
  }

  push(node: TreeNode): void {
    node.heapIndex = this.items.length;
    this.items.push(node);
    this.up(node.heapIndex);
  }

  remove(node: TreeNode): void {
    const index = node.heapIndex;
    if (index < 0 || this.items[index] !== node) return;
    const last = this.items.pop()!;
    node.heapIndex = -1;
    if (last === node) return;
    this.items[index] = last;
    last.heapIndex = index;
    this.down(index);
    this.up(last.heapIndex);
  }

  /** Restores the order after node.expireTime changed. */
  update(node: TreeNode): void {
    this.down(node.heapIndex);
    this.up(node.heapIndex);
  }

  /**
   * By deadline, then by creation: keys with the same deadline expire in one order on every
   * member, however each built its heap (applying writes, or restoring a snapshot).
   */
  private less(i: number, j: number): boolean {
    const a = this.items[i]!;
    const b = this.items[j]!;
    return a.expireTime < b.expireTime || (a.expireTime === b.expireTime && a.createdIndex < b.createdIndex);
  }

  private swap(i: number, j: number): void {
    const a = this.items[i]!;
    const b = this.items[j]!;
    this.items[i] = b;
    this.items[j] = a;
    a.heapIndex = j;
    b.heapIndex = i;
  }

  private up(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(index: number): void {
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.items.length) return;
      const right = left + 1;
      const child = right < this.items.length && this.less(right, left) ? right : left;
      if (!this.less(child, i)) return;
      this.swap(i, child);
      i = child;
    }
  }
}
