import type { ExportDocument, ExportedNode } from './export-format.ts';
import type { KeysClient } from './keys-client.ts';
import { forEachConcurrently } from './concurrently.ts';
import type { WriteMode } from './tree-writer.ts';
import { TreeWriter } from './tree-writer.ts';

export interface ImportOptions {
  /** Where the document's key lands (default: where it was). */
  readonly prefix?: string;
  /** Replace what exists instead of leaving it alone. */
  readonly overwrite: boolean;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** The clock that remaining TTLs are computed against (ms since the epoch). */
  readonly now: () => number;
  /** Told about each node that was not written, and why. */
  readonly onSkip?: (key: string, reason: SkipReason) => void;
  /** Told after each node, with how many are done. */
  readonly onProgress?: (done: number, total: number) => void;
}

export type SkipReason = 'exists' | 'expired' | 'conflict';

export interface ImportSummary {
  readonly total: number;
  readonly written: number;
  readonly skipped: Readonly<Record<SkipReason, number>>;
}

/** `key` moved from below `from` to below `to`: "/app/a" from "/app" to "/new" is "/new/a". */
export function rebaseKey(key: string, from: string, to: string): string {
  if (from === to) return key;
  const rest = from === '/' ? key : key.slice(from.length);
  if (to === '/') return rest === '' ? '/' : rest;
  return rest === '/' ? to : `${to}${rest}`;
}

function depthOf(key: string): number {
  return key === '/' ? 0 : key.split('/').length - 1;
}

/**
 * Writes a (validated) document into a cluster. Directories go first, shallowest first, so that a
 * directory keeps its own TTL instead of being made by its first child; then every file, with
 * `concurrency` requests in flight.
 */
export async function importDocument(client: Pick<KeysClient, 'get' | 'set' | 'delete'>, doc: ExportDocument, options: ImportOptions): Promise<ImportSummary> {
  const writer = new TreeWriter(client);
  const mode: WriteMode = options.overwrite ? 'replace' : 'create';
  const target = options.prefix ?? doc.key;
  const nodes = doc.nodes.filter((node) => rebaseKey(node.key, doc.key, target) !== '/');
  const skipped: Record<SkipReason, number> = { exists: 0, expired: 0, conflict: 0 };
  let written = 0;
  let done = 0;
  const writeOne = async (node: ExportedNode): Promise<void> => {
    const key = rebaseKey(node.key, doc.key, target);
    const outcome = await writer.write(key, node, mode, options.now());
    // An existing directory is what the import needs, unless it was to get a TTL.
    if (outcome === 'written' || (outcome === 'exists' && node.dir && node.expiration === undefined)) {
      written++;
    } else {
      const reason = outcome as SkipReason;
      skipped[reason]++;
      options.onSkip?.(key, reason);
    }
    options.onProgress?.(++done, nodes.length);
  };
  const dirs = nodes.filter((node) => node.dir);
  for (const depth of [...new Set(dirs.map((node) => depthOf(node.key)))].sort((a, b) => a - b)) {
    await forEachConcurrently(dirs.filter((node) => depthOf(node.key) === depth), options.concurrency, writeOne);
  }
  await forEachConcurrently(nodes.filter((node) => !node.dir), options.concurrency, writeOne);
  return { total: nodes.length, written, skipped };
}
