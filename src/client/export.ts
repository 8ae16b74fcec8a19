import { ErrorCode } from '../api/error-code.ts';
import { EtcdError } from './errors.ts';
import type { ExportDocument, ExportedNode, HiddenRead } from './export-format.ts';
import { EXPORT_FORMAT, EXPORT_VERSION, flattenNode, isAtOrBelow } from './export-format.ts';
import type { KeysClient } from './keys-client.ts';

/** A tree as one consistent read saw it. */
export interface SubtreeRead {
  /** The key and everything below it, parents first; empty when the key does not exist. */
  readonly nodes: ExportedNode[];
  /** X-Etcd-Index of the read: the tree is exactly the state after this index. */
  readonly index: number;
}

/**
 * Reads a key and everything below it with one linearizable recursive GET: one point-in-time
 * view. The server leaves hidden nodes (names starting with "_") out of it.
 */
export async function readSubtree(client: Pick<KeysClient, 'get'>, key: string): Promise<SubtreeRead> {
  try {
    const { event, etcdIndex } = await client.get(key, { recursive: true, sorted: true, quorum: true });
    return { nodes: event.node === undefined ? [] : flattenNode(event.node), index: etcdIndex };
  } catch (error) {
    if (error instanceof EtcdError && error.errorCode === ErrorCode.KeyNotFound) return { nodes: [], index: error.index };
    throw error;
  }
}

export interface ExportOptions {
  readonly key: string;
  /** Hidden keys or directories to include, each read by name (the API cannot list them). */
  readonly hidden: readonly string[];
  readonly now: Date;
  /** Tells that the hidden keys could not be read at the tree's index. */
  readonly warn?: (message: string) => void;
}

/** How many times the tree and the hidden keys are read when writes keep landing between the reads. */
const HIDDEN_READ_ATTEMPTS = 5;

/**
 * The key's tree as an export document. The tree is one consistent read; each hidden key is a
 * read of its own, taken again (up to HIDDEN_READ_ATTEMPTS times) until all were read at one index.
 */
export async function exportTree(client: Pick<KeysClient, 'get'>, options: ExportOptions): Promise<ExportDocument> {
  for (const name of options.hidden) {
    if (!isAtOrBelow(name, options.key)) throw new RangeError(`--hidden ${name} is not below the exported key ${options.key}`);
  }
  for (let attempt = 1; ; attempt++) {
    const { event, etcdIndex } = await client.get(options.key, { recursive: true, sorted: true, quorum: true });
    const nodes = event.node === undefined ? [] : flattenNode(event.node);
    const hidden: HiddenRead[] = [];
    for (const name of options.hidden) {
      const read = await readSubtree(client, name);
      hidden.push({ key: name, index: read.index });
      nodes.push(...read.nodes);
    }
    const consistent = hidden.every((read) => read.index === etcdIndex);
    if (consistent || attempt >= HIDDEN_READ_ATTEMPTS) {
      if (!consistent) options.warn?.(`the cluster kept changing: hidden keys were read at indexes ${hidden.map((read) => read.index).join(', ')}, the tree at ${etcdIndex} (see "hidden" in the document)`);
      return { format: EXPORT_FORMAT, version: EXPORT_VERSION, key: options.key, index: etcdIndex, exportedAt: options.now.toISOString(), hidden, nodes: withoutDuplicates(nodes) };
    }
  }
}

/** A hidden directory named twice, or inside another named one, is listed once. */
function withoutDuplicates(nodes: readonly ExportedNode[]): ExportedNode[] {
  const seen = new Set<string>();
  return nodes.filter((node) => !seen.has(node.key) && seen.add(node.key));
}
