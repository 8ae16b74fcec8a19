import type { TreeNode } from './node.ts';
import type { NodeRecord } from './node-record.ts';

/** A node's fields as a snapshot read needs them, kept before a write changes them. */
type Fields = Omit<NodeRecord, 'path'>;

/**
 * Every node of the store (hidden ones too, each directory before its children) as it was at the
 * index the read began, produced a slice at a time while writes go on: a backup streamed from a
 * live member. As with SlicedRead, the store hands this read every node it is about to change,
 * and the read keeps what it still needs of it (its fields, its children as a list), once. Nodes
 * created after the read began are not part of it and are never kept.
 */
export class SnapshotRead {
  /** The store's index when the read began: the tree this read produces. */
  readonly index: number;
  private readonly onClose: (read: SnapshotRead) => void;
  private readonly fields = new Map<TreeNode, Fields>();
  private readonly childLists = new Map<TreeNode, TreeNode[]>();
  /** Directories whose children are still to be produced, with their paths ('' for the root). */
  private readonly pending: Array<readonly [TreeNode, string]>;
  /** The directory being listed, its path, and how far. */
  private listing: { readonly children: readonly TreeNode[]; readonly prefix: string; next: number } | undefined;

  constructor(root: TreeNode, index: number, onClose: (read: SnapshotRead) => void) {
    this.index = index;
    this.onClose = onClose;
    this.pending = [[root, '']];
  }

  /** Whether every node has been produced. */
  get done(): boolean {
    return this.listing === undefined && this.pending.length === 0;
  }

  /** The next `count` nodes at most (fewer only at the end; none once done). */
  next(count: number): NodeRecord[] {
    const out: NodeRecord[] = [];
    while (out.length < count) {
      if (this.listing === undefined || this.listing.next === this.listing.children.length) {
        const dir = this.pending.pop();
        if (dir === undefined) {
          this.listing = undefined;
          break;
        }
        this.listing = { children: this.childLists.get(dir[0]) ?? [...dir[0].children!.values()], prefix: dir[1], next: 0 };
        continue;
      }
      const node = this.listing.children[this.listing.next++]!;
      const path = `${this.listing.prefix}/${node.name}`;
      const fields = this.fields.get(node) ?? fieldsOf(node);
      out.push({ path, ...fields });
      if (fields.value === null) this.pending.push([node, path]);
    }
    return out;
  }

  /** The store is about to change `node`: keep it as this read still needs it. */
  preserve(node: TreeNode): void {
    if (node.createdIndex > this.index || this.fields.has(node)) return;
    this.fields.set(node, fieldsOf(node));
    if (node.children !== null) this.childLists.set(node, [...node.children.values()]);
  }

  /** The read is over (done, or its client gone): the store stops preserving for it. */
  close(): void {
    this.onClose(this);
  }
}

function fieldsOf(node: TreeNode): Fields {
  return { createdIndex: node.createdIndex, modifiedIndex: node.modifiedIndex, expireTime: node.expireTime, value: node.isDir ? null : node.value };
}
