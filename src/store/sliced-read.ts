import type { NodeView, TreeNode } from './node.ts';
import { compareUtf8 } from './node.ts';

/** A directory being listed: its children to write, and what closes it after them. */
interface Listing {
  readonly children: readonly TreeNode[];
  /** The children's paths are `${prefix}/${name}` ('' below the root). */
  readonly prefix: string;
  /** `]`, the directory's indexes and `}`. */
  readonly close: string;
  next: number;
}

/**
 * A get's node as JSON, produced in slices so that a big tree never holds the event loop for
 * long, exactly as `JSON.stringify(node.view(...))` would have written it at the index the read
 * began. The tree is mutated in place meanwhile: before a write changes a node (its fields or
 * its children), the store hands it to `preserve`, which keeps what this read would still need
 * of it as it was (its fields as a view, its children as a list), once, the first time only.
 * Nodes no write has touched are read live: they are as they were.
 */
export class SlicedRead {
  /** The store's index when the read began: the tree this read shows. */
  readonly index: number;
  private readonly root: TreeNode;
  private readonly rootPath: string;
  private readonly recursive: boolean;
  private readonly sorted: boolean;
  private readonly now: number;
  private readonly onClose: (read: SlicedRead) => void;
  private readonly heads = new Map<TreeNode, NodeView>();
  private readonly childLists = new Map<TreeNode, TreeNode[]>();
  private readonly open: Listing[] = [];
  private started = false;

  constructor(root: TreeNode, rootPath: string, recursive: boolean, sorted: boolean, now: number, index: number, onClose: (read: SlicedRead) => void) {
    this.root = root;
    this.rootPath = rootPath;
    this.recursive = recursive;
    this.sorted = sorted;
    this.now = now;
    this.index = index;
    this.onClose = onClose;
  }

  /** Whether the whole node has been produced. */
  get done(): boolean {
    return this.started && this.open.length === 0;
  }

  /**
   * The next slice of the JSON: nodes until at least `budget` characters (a node is never cut),
   * or the rest. Empty once done.
   */
  next(budget: number): string {
    const parts: string[] = [];
    let size = 0;
    const emit = (text: string): void => {
      parts.push(text);
      size += text.length;
    };
    if (!this.started) {
      this.started = true;
      this.writeNode(this.root, this.rootPath, true, emit);
    }
    while (this.open.length > 0 && size < budget) {
      const listing = this.open[this.open.length - 1]!;
      if (listing.next === listing.children.length) {
        this.open.pop();
        emit(listing.close);
        continue;
      }
      if (listing.next > 0) emit(',');
      const child = listing.children[listing.next++]!;
      this.writeNode(child, `${listing.prefix}/${child.name}`, this.recursive, emit);
    }
    return parts.join('');
  }

  /** The store is about to change `node`: keep it as this read still needs it. */
  preserve(node: TreeNode): void {
    if (this.heads.has(node) || !this.covers(node)) return;
    this.heads.set(node, node.view(this.now, false, false, false, node.path));
    if (node.children !== null) this.childLists.set(node, [...node.children.values()]);
  }

  /** The read is over (done, or its client gone): the store stops preserving for it. */
  close(): void {
    this.onClose(this);
  }

  /** Whether `node` is the read's node or below it. */
  private covers(node: TreeNode): boolean {
    for (let n: TreeNode | null = node; n !== null; n = n.parent) if (n === this.root) return true;
    return false;
  }

  /**
   * Writes a node's fields in the order of NodeView (key, value or dir, expiration, ttl, nodes,
   * modifiedIndex, createdIndex); a directory whose children are listed is left open for them.
   */
  private writeNode(node: TreeNode, path: string, withChildren: boolean, emit: (text: string) => void): void {
    const { modifiedIndex, createdIndex, ...fields } = this.heads.get(node) ?? node.view(this.now, false, false, false, path);
    const head = JSON.stringify(fields).slice(0, -1);
    const indexes = `${modifiedIndex === undefined ? '' : `,"modifiedIndex":${modifiedIndex}`}${createdIndex === undefined ? '' : `,"createdIndex":${createdIndex}`}}`;
    const children = withChildren && node.children !== null ? this.visibleChildren(node) : [];
    if (children.length === 0) {
      emit(head + indexes);
      return;
    }
    emit(`${head},"nodes":[`);
    this.open.push({ children, prefix: node.parent === null ? '' : path, close: `]${indexes}`, next: 0 });
  }

  private visibleChildren(dir: TreeNode): TreeNode[] {
    const all = this.childLists.get(dir) ?? [...dir.children!.values()];
    const visible = all.filter((child) => !child.isHidden);
    // The names share their directory's path: ordering by name is ordering by key.
    if (this.sorted) visible.sort((a, b) => compareUtf8(a.name, b.name));
    return visible;
  }
}
