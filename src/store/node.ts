import { isHiddenName } from './clean-path.ts';

/** A node as the API shows it; fields in etcd's order (key, value, dir, expiration, ttl, nodes, indexes). */
export interface NodeView {
  key?: string;
  value?: string;
  dir?: boolean;
  expiration?: string;
  ttl?: number;
  nodes?: NodeView[];
  modifiedIndex?: number;
  createdIndex?: number;
}

/** No expiry. Expire times are milliseconds since the epoch. */
export const PERMANENT = 0;

/**
 * A file or a directory of the key tree. Directories have `children` (insertion-ordered);
 * files have `value`. Invariant: a node with expireTime !== PERMANENT is in the TTL heap.
 */
export class TreeNode {
  readonly name: string;
  parent: TreeNode | null;
  value: string;
  readonly children: Map<string, TreeNode> | null;
  createdIndex: number;
  modifiedIndex: number;
  expireTime: number;
  /** Position in the TTL heap, -1 when not in it. Owned by TtlHeap. */
  heapIndex = -1;

  constructor(name: string, parent: TreeNode | null, dir: boolean, value: string, index: number, expireTime: number) {
    this.name = name;
    this.parent = parent;
    this.value = dir ? '' : value;
    this.children = dir ? new Map() : null;
    this.createdIndex = index;
    this.modifiedIndex = index;
    this.expireTime = expireTime;
  }

  get isDir(): boolean {
    return this.children !== null;
  }

  get isPermanent(): boolean {
    return this.expireTime === PERMANENT;
  }

  get isHidden(): boolean {
    return isHiddenName(this.name);
  }

  /** The full key ("/" for the root). Computed from the parents, so renames never go stale. */
  get path(): string {
    if (this.parent === null) return '/';
    const names: string[] = [this.name];
    for (let n = this.parent; n.parent !== null; n = n.parent) names.push(n.name);
    return `/${names.reverse().join('/')}`;
  }

  /**
   * The node as the API shows it at time `now`. A directory lists its visible children only when
   * `withChildren`; their own children only when `recursive`. `path` saves the walk to the root
   * when the caller knows it.
   */
  view(now: number, withChildren: boolean, recursive: boolean, sorted: boolean, path: string = this.path): NodeView {
    const out: NodeView = {};
    if (this.parent !== null) out.key = path;
    if (this.children === null) out.value = this.value;
    else out.dir = true;
    if (!this.isPermanent) {
      out.expiration = formatExpiration(this.expireTime);
      // An expired key awaiting its sweep shows no ttl rather than a negative one.
      const ttl = ttlSeconds(this.expireTime, now);
      if (ttl > 0) out.ttl = ttl;
    }
    if (this.children !== null && withChildren) {
      const nodes: NodeView[] = [];
      const prefix = this.parent === null ? '' : path;
      for (const child of this.children.values()) {
        if (!child.isHidden) nodes.push(child.view(now, recursive, recursive, sorted, `${prefix}/${child.name}`));
      }
      if (sorted) nodes.sort(compareKeys);
      if (nodes.length > 0) out.nodes = nodes;
    }
    if (this.modifiedIndex !== 0) out.modifiedIndex = this.modifiedIndex;
    if (this.createdIndex !== 0) out.createdIndex = this.createdIndex;
    return out;
  }
}

function compareKeys(a: NodeView, b: NodeView): number {
  return compareUtf8(a.key ?? '', b.key ?? '');
}

/**
 * Orders strings by their UTF-8 bytes, as Go compares strings. That is code point order; UTF-16
 * differs only where a surrogate pair meets a character in U+E000..U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** Seconds left, rounded up, as etcd computes it (Go's truncating division, plus one for a remainder). */
export function ttlSeconds(expireTime: number, now: number): number {
  const remaining = expireTime - now;
  const whole = Math.trunc(remaining / 1000);
  return remaining % 1000 > 0 ? whole + 1 : whole;
}

/** RFC 3339 in UTC with the fraction's trailing zeros dropped, as Go's RFC3339Nano writes it. */
export function formatExpiration(expireTime: number): string {
  const iso = new Date(expireTime).toISOString();
  return iso.replace(/\.?0+Z$/, 'Z');
}
