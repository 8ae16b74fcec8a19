import type { ExportDocument } from '../client/export-format.ts';
import type { ImportSummary, SkipReason } from '../client/import.ts';
import type { MirrorProgress } from '../client/mirror.ts';

// What export, import and mirror print. Counts are plain integers so that scripts can parse them.

/** The document with one node per line: valid JSON that diffs and greps well. */
export function formatExportDocument(doc: ExportDocument): string {
  const { nodes, ...header } = doc;
  const head = JSON.stringify(header).slice(0, -1);
  if (nodes.length === 0) return `${head},"nodes":[]}`;
  return `${head},"nodes":[\n${nodes.map((node) => JSON.stringify(node)).join(',\n')}\n]}`;
}

const SKIP_WORDS: Readonly<Record<SkipReason, string>> = {
  exists: 'already there (use --overwrite to replace)',
  expired: 'expired',
  conflict: 'in the way of a file or directory of the other kind',
};

export function formatImportSummary(summary: ImportSummary, target: string): string {
  const skipped = (Object.keys(SKIP_WORDS) as SkipReason[]).filter((reason) => summary.skipped[reason] > 0).map((reason) => `${summary.skipped[reason]} ${SKIP_WORDS[reason]}`);
  const total = skipped.length === 0 ? '' : `; skipped ${skipped.join(', ')}`;
  return `import: wrote ${summary.written} of ${summary.total} nodes into ${target}${total}`;
}

export function formatSkippedKey(key: string, reason: SkipReason): string {
  return `skipped ${key}: ${SKIP_WORDS[reason]}`;
}

export function formatImportProgress(done: number, total: number): string {
  return `import: ${done} of ${total} nodes (${Math.floor((done / total) * 100)}%)`;
}

export function formatMirrorLag(progress: MirrorProgress): string {
  return `mirror: source index ${progress.sourceIndex}, applied through ${progress.appliedIndex} (${Math.max(0, progress.sourceIndex - progress.appliedIndex)} behind), ${progress.applied} changes applied`;
}

const counted = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

export function formatMirrorSummary(progress: MirrorProgress): string {
  return `mirror: stopped at source index ${progress.appliedIndex}: ${counted(progress.applied, 'change', 'changes')} applied, ${counted(progress.copies, 'copy', 'copies')} of the tree (${counted(progress.copiedNodes, 'node', 'nodes')} written)`;
}
