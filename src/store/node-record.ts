import type { TreeNode } from './node.ts';

/** One node of a snapshot: a directory has `value` null. */
export interface NodeRecord {
  readonly path: string;
  readonly createdIndex: number;
  readonly modifiedIndex: number;
  readonly expireTime: number;
  readonly value: string | null;
}

export function nodeRecord(path: string, node: TreeNode): NodeRecord {
  return { path, createdIndex: node.createdIndex, modifiedIndex: node.modifiedIndex, expireTime: node.expireTime, value: node.isDir ? null : node.value };
}
