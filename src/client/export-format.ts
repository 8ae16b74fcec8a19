import type { V2Node } from '../api/wire.ts';

// The JSON document of `kvctl export` and `kvctl import` (docs/export-format.md): a flat list of
// nodes, so that a reader needs no recursion and a validator can name the bad entry by position.

export const EXPORT_FORMAT = 'kvd-export';
export const EXPORT_VERSION = 1;

/** One node: a file with its value, or a directory; either may expire. */
export interface ExportedNode {
  readonly key: string;
  readonly value?: string;
  readonly dir?: true;
  /** When the node expires (RFC 3339, the source's clock); absent: it is permanent. */
  readonly expiration?: string;
  /** Seconds it had left when it was read: for people; import goes by `expiration`. */
  readonly ttl?: number;
}

/** A hidden key or directory that was read by name, and the index it was read at. */
export interface HiddenRead {
  readonly key: string;
  readonly index: number;
}

export interface ExportDocument {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: typeof EXPORT_VERSION;
  /** The exported key: every node is this key or below it. */
  readonly key: string;
  /** X-Etcd-Index of the one recursive read that gave the (non-hidden) tree. */
  readonly index: number;
  readonly exportedAt: string;
  readonly hidden: readonly HiddenRead[];
  /** Parents before their children. */
  readonly nodes: readonly ExportedNode[];
}

/** The document cannot be imported: what is wrong, and where. */
export class MalformedExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedExportError';
  }
}

/** A node of a GET reply (the root left out) and everything below it, parents first, in the order the server listed them. */
export function flattenNode(node: V2Node): ExportedNode[] {
  const found: ExportedNode[] = [];
  const visit = (current: V2Node): void => {
    // The root (no key in etcd's replies) always exists and has no TTL: nothing to record.
    const key = current.key;
    if (key === undefined) {
      for (const child of current.nodes ?? []) visit(child);
      return;
    }
    const ttl = current.expiration !== undefined ? { expiration: current.expiration, ...(current.ttl !== undefined ? { ttl: current.ttl } : {}) } : {};
    found.push(current.dir ? { key, dir: true, ...ttl } : { key, value: current.value ?? '', ...ttl });
    for (const child of current.nodes ?? []) visit(child);
  };
  visit(node);
  return found;
}

/** A key as the server writes it: "/", or "/"-separated non-empty segments other than "." and "..". */
export function isCanonicalKey(key: string): boolean {
  if (key === '/') return true;
  if (!key.startsWith('/') || key.endsWith('/')) return false;
  return key.slice(1).split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

/** Whether `key` is `root` or below it. */
export function isAtOrBelow(key: string, root: string): boolean {
  return root === '/' || key === root || key.startsWith(`${root}/`);
}

/** The parent of a key ("/" for a top-level key). */
export function parentOf(key: string): string {
  const cut = key.lastIndexOf('/');
  return cut <= 0 ? '/' : key.slice(0, cut);
}

/** Parses and checks a whole document before anything is written: throws MalformedExportError naming the first fault. */
export function parseExportDocument(text: string): ExportDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MalformedExportError(`not JSON (${(error as Error).message})`);
  }
  const doc = asObject(parsed, 'the document');
  if (doc.format !== EXPORT_FORMAT) throw new MalformedExportError(`"format" is ${JSON.stringify(doc.format)}, not "${EXPORT_FORMAT}": not a kvctl export`);
  if (doc.version !== EXPORT_VERSION) throw new MalformedExportError(`"version" is ${JSON.stringify(doc.version)}: this kvctl reads version ${EXPORT_VERSION}`);
  const key = canonicalKey(doc.key, '"key"');
  const index = wholeNumber(doc.index, '"index"');
  if (typeof doc.exportedAt !== 'string' || !isDate(doc.exportedAt)) throw new MalformedExportError('"exportedAt" must be an RFC 3339 time');
  const hidden = arrayOf(doc.hidden ?? [], '"hidden"').map((entry, i) => {
    const read = asObject(entry, `hidden[${i}]`);
    return { key: canonicalKey(read.key, `hidden[${i}].key`), index: wholeNumber(read.index, `hidden[${i}].index`) };
  });
  const nodes = arrayOf(doc.nodes, '"nodes"').map((entry, i) => checkNode(entry, i, key));
  checkTreeShape(nodes);
  return { format: EXPORT_FORMAT, version: EXPORT_VERSION, key, index, exportedAt: doc.exportedAt, hidden, nodes };
}

function checkNode(entry: unknown, i: number, root: string): ExportedNode {
  const where = `nodes[${i}]`;
  const node = asObject(entry, where);
  const key = canonicalKey(node.key, `${where}.key`);
  if (!isAtOrBelow(key, root)) throw new MalformedExportError(`${where}: ${key} is not below the exported key ${root}`);
  const isDir = node.dir === true;
  if (node.dir !== undefined && node.dir !== true) throw new MalformedExportError(`${where} (${key}): "dir" must be true or absent`);
  if (isDir === (node.value !== undefined)) throw new MalformedExportError(`${where} (${key}): a node has either a "value" (a file) or "dir": true`);
  if (!isDir && typeof node.value !== 'string') throw new MalformedExportError(`${where} (${key}): "value" must be a string`);
  if (node.expiration !== undefined && (typeof node.expiration !== 'string' || !isDate(node.expiration))) throw new MalformedExportError(`${where} (${key}): "expiration" must be an RFC 3339 time`);
  if (node.ttl !== undefined && typeof node.ttl !== 'number') throw new MalformedExportError(`${where} (${key}): "ttl" must be a number`);
  const ttl = node.expiration !== undefined ? { expiration: node.expiration as string, ...(node.ttl !== undefined ? { ttl: node.ttl as number } : {}) } : {};
  return isDir ? { key, dir: true, ...ttl } : { key, value: node.value as string, ...ttl };
}

/** No key twice, and nothing below a file. */
function checkTreeShape(nodes: readonly ExportedNode[]): void {
  const kinds = new Map<string, boolean>();
  for (const node of nodes) {
    if (kinds.has(node.key)) throw new MalformedExportError(`${node.key} appears twice`);
    kinds.set(node.key, node.dir === true);
  }
  for (const node of nodes) {
    for (let parent = parentOf(node.key); parent !== '/'; parent = parentOf(parent)) {
      if (kinds.get(parent) === false) throw new MalformedExportError(`${node.key} is below ${parent}, which is a file`);
    }
  }
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedExportError(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

function arrayOf(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new MalformedExportError(`${what} must be an array`);
  return value;
}

function canonicalKey(value: unknown, what: string): string {
  if (typeof value !== 'string' || !isCanonicalKey(value)) throw new MalformedExportError(`${what} must be a key such as "/a/b", not ${JSON.stringify(value)}`);
  return value;
}

function wholeNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new MalformedExportError(`${what} must be a whole number, not ${JSON.stringify(value)}`);
  return value;
}

function isDate(text: string): boolean {
  return /^\d{4}-\d\d-\d\dT/.test(text) && Number.isFinite(Date.parse(text));
}
