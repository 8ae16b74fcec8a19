import type { ConfChange, Entry, NodeId } from '../raft/types.ts';
import type { AuthCommand } from './auth-command.ts';
import { decodeAuthCommand } from './auth-command.ts';
import { cleanPath } from '../store/clean-path.ts';
import type { KeysCommand, TxnCommand } from './keys-command.ts';
import type { MemberInfo } from './member-info.ts';
import { BINARY_KEYS, decodeKeysPayload } from './payload-codec.ts';

/** What a normal log entry carries. */
export type Payload =
  | { readonly kind: 'keys'; readonly id: string; readonly command: KeysCommand }
  | { readonly kind: 'txn'; readonly id: string; readonly command: TxnCommand }
  | { readonly kind: 'expire'; readonly time: number }
  | { readonly kind: 'auth'; readonly id: string; readonly command: AuthCommand }
  | { readonly kind: 'attributes'; readonly member: NodeId; readonly name: string; readonly clientURLs: readonly string[] }
  | { readonly kind: 'updatePeers'; readonly member: NodeId; readonly peerURLs: readonly string[] };

const decoder = new TextDecoder('utf-8', { fatal: true });
const METHODS: ReadonlySet<unknown> = new Set(['PUT', 'POST', 'DELETE', 'QGET']);
const CONF_CHANGE_TYPES: ReadonlySet<unknown> = new Set(['addNode', 'removeNode', 'addLearner']);

/** A log entry whose data is not what its type says; it is refused from peers and never applied. */
export class MalformedEntryError extends RangeError {}

/**
 * Decodes a normal entry's data: a binary keys payload, or one of the JSON payloads, checked
 * field by field, so that applying it can trust every field.
 */
export function decodePayload(data: Uint8Array): Payload {
  if (data[0] === BINARY_KEYS) {
    try {
      return checkedKeys({ kind: 'keys', ...decodeKeysPayload(data) });
    } catch (error) {
      throw new MalformedEntryError(error instanceof Error ? error.message : String(error));
    }
  }
  const value = parseObject('payload', utf8('payload', data));
  switch (value.kind) {
    case 'keys':
      if (typeof value.id !== 'string' || typeof value.command !== 'object' || value.command === null) break;
      return checkedKeys({ kind: 'keys', id: value.id, command: value.command as KeysCommand });
    case 'txn':
      if (typeof value.id !== 'string' || !isTxnCommand(value.command)) break;
      return { kind: 'txn', id: value.id, command: value.command };
    case 'expire':
      if (!isTime(value.time)) break;
      return { kind: 'expire', time: value.time };
    case 'auth':
      if (typeof value.id !== 'string') break;
      try {
        return { kind: 'auth', id: value.id, command: decodeAuthCommand(value.command) };
      } catch {
        break;
      }
    case 'attributes':
      if (!isMemberId(value.member) || typeof value.name !== 'string' || !isStrings(value.clientURLs)) break;
      return { kind: 'attributes', member: value.member, name: value.name, clientURLs: value.clientURLs };
    case 'updatePeers':
      if (!isMemberId(value.member) || !isPeerUrls(value.peerURLs)) break;
      return { kind: 'updatePeers', member: value.member, peerURLs: value.peerURLs };
    default:
      throw new MalformedEntryError('payload: unknown kind');
  }
  throw new MalformedEntryError(`payload: malformed ${String(value.kind)}`);
}

/**
 * Decodes a confChange entry's data; the context, when there is one, is the new member's record.
 * Throws MalformedEntryError.
 */
export function decodeMemberChange(data: Uint8Array): { readonly change: ConfChange; readonly member?: MemberInfo } {
  const value = parseObject('membership change', utf8('membership change', data));
  if (!CONF_CHANGE_TYPES.has(value.type) || !isMemberId(value.nodeId) || (value.context !== undefined && typeof value.context !== 'string')) {
    throw new MalformedEntryError('membership change: malformed');
  }
  const type = value.type as ConfChange['type'];
  if (value.context === undefined) return { change: { type, nodeId: value.nodeId } };
  const member = decodeMemberInfo(parseObject('membership change context', value.context));
  if (member.id !== value.nodeId) throw new MalformedEntryError('membership change: the context is another member');
  return { change: { type, nodeId: value.nodeId, context: value.context }, member };
}

/** Throws MalformedEntryError unless the entry's data decodes as its type says (an empty entry is fine). */
export function checkEntry(entry: Entry): void {
  if (entry.type === 'confChange') decodeMemberChange(entry.data);
  else if (entry.data.length > 0) decodePayload(entry.data);
}

function checkedKeys(payload: Payload & { kind: 'keys' }): Payload {
  if (!isKeysCommand(payload.command)) throw new MalformedEntryError('keys payload: a field is out of range');
  return payload;
}

function isKeysCommand(value: unknown): value is KeysCommand {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as KeysCommand;
  return METHODS.has(c.method) && typeof c.key === 'string' && c.key === cleanPath(c.key)
    && typeof c.value === 'string' && typeof c.prevValue === 'string'
    && typeof c.dir === 'boolean' && typeof c.recursive === 'boolean' && typeof c.sorted === 'boolean' && typeof c.refresh === 'boolean'
    && (c.prevExist === undefined || typeof c.prevExist === 'boolean')
    && Number.isSafeInteger(c.prevIndex) && c.prevIndex >= 0 && isTime(c.expireTime) && isTime(c.now);
}

/** A transaction: clean keys, compares with fields of the right types, and keys commands in both branches. */
function isTxnCommand(value: unknown): value is TxnCommand {
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Record<string, unknown>;
  return Array.isArray(t.compare) && t.compare.every(isTxnCompare)
    && Array.isArray(t.success) && t.success.every(isKeysCommand)
    && Array.isArray(t.failure) && t.failure.every(isKeysCommand);
}

function isTxnCompare(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return typeof c.key === 'string' && c.key === cleanPath(c.key)
    && (c.prevValue === undefined || typeof c.prevValue === 'string')
    && (c.prevIndex === undefined || (Number.isSafeInteger(c.prevIndex) && (c.prevIndex as number) > 0))
    && (c.prevExist === undefined || typeof c.prevExist === 'boolean');
}

/** A member's record, as a membership change or a snapshot carries it; throws MalformedEntryError. */
export function decodeMemberInfo(value: unknown): MemberInfo {
  const m = value as Record<string, unknown> | null;
  if (typeof m !== 'object' || m === null || !isMemberId(m.id) || typeof m.name !== 'string' || !isPeerUrls(m.peerURLs) || !isStrings(m.clientURLs)
    || (m.isLearner !== undefined && typeof m.isLearner !== 'boolean')) {
    throw new MalformedEntryError('membership change: the member record is malformed');
  }
  return { id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, ...(m.isLearner !== undefined ? { isLearner: m.isLearner } : {}) };
}

function utf8(what: string, data: Uint8Array): string {
  try {
    return decoder.decode(data);
  } catch {
    throw new MalformedEntryError(`${what}: not UTF-8`);
  }
}

function parseObject(what: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MalformedEntryError(`${what}: not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedEntryError(`${what}: not an object`);
  return value as Record<string, unknown>;
}

/** The latest instant a Date holds: an expiry past it cannot be shown, and showing it threw on apply. */
const MAX_DATE_MS = 8.64e15;

/** A clock reading in ms since the epoch (0 for none). */
function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_DATE_MS;
}

function isMemberId(value: unknown): value is NodeId {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/**
 * Peer URLs a member can dial: at least one, each an http(s) URL of a host. The client API checks
 * them before proposing; a peer's proposal is checked here, since the transport's `new URL` of a
 * nonsense one threw on every member that sent to it.
 */
export function isPeerUrls(value: unknown): value is string[] {
  return isStrings(value) && value.length > 0 && value.every(isHttpUrlOfHost);
}

function isHttpUrlOfHost(text: string): boolean {
  const url = URL.parse(text);
  return url !== null && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
