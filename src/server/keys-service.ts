import type { StoreEvent } from '../store/event.ts';
import type { SlicedRead } from '../store/sliced-read.ts';
import { ErrorCodes, StoreError } from '../store/store-error.ts';
import type { KeyAccess } from './auth.ts';
import { FormError, parseForm } from './form.ts';
import type { KeysCommand } from './keys-command.ts';
import { commandFor } from './keys-command.ts';
import type { KeysMethod, KeysRequest } from './keys-request.ts';
import { parseKeysRequest } from './keys-request.ts';
import { errorStatus, eventStatus, successBody } from './keys-response.ts';
import type { WatchHost } from './keys-watch.ts';
import { KeysWatch } from './keys-watch.ts';
import { formatId } from './member-id.ts';

const KEYS_METHODS: ReadonlySet<string> = new Set<KeysMethod>(['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);

/** What the keys service needs of its member (a Member has it all). */
export interface KeysHost extends WatchHost {
  readonly clusterId: number;
  readonly raftIndex: number;
  readonly term: number;
  proposeKeys(command: KeysCommand): Promise<{ readonly event: StoreEvent; readonly etcdIndex: number }>;
  linearizableRead(): Promise<void>;
}

/** Whether the caller may make every one of these accesses (auth; always true while it is off). */
export type AccessCheck = (accesses: readonly KeyAccess[]) => Promise<boolean>;

/** One /v2/keys request as it arrived, with nothing of HTTP left in it. */
export interface KeysCall {
  readonly method: KeysMethod;
  /** The URL path after /v2/keys, percent-decoded. */
  readonly keyPath: string;
  /** The URL's query, undecoded, without its `?`. */
  readonly query: string;
  readonly contentType: string | undefined;
  readonly body: string;
  /** The clock reading (ms since the epoch) that TTLs count from: the caller's, never read here. */
  readonly now: number;
  readonly allowed: AccessCheck;
}

/** etcd's headers of a keys answer; the X-Raft ones only on success. Their order is etcd's. */
export type KeysHeaders = Readonly<Record<string, string>>;

/** An answer whose body is known whole: a write's event, or an error. */
export interface KeysReply {
  readonly kind: 'reply';
  readonly status: number;
  readonly headers: KeysHeaders;
  /** For a HEAD too: HTTP leaves it out, but its length is the one a GET would have. */
  readonly body: string;
}

/** A get's answer (status 200): its body comes from `read`, in slices (`writeGet`) or whole (`wholeGetBody`). */
export interface KeysRead {
  readonly kind: 'read';
  readonly status: 200;
  readonly headers: KeysHeaders;
  readonly read: SlicedRead;
  readonly headOnly: boolean;
}

/** A watch's answer (status 200, headers at once): its events come from `watch`. */
export interface KeysWatchAnswer {
  readonly kind: 'watch';
  readonly status: 200;
  readonly headers: KeysHeaders;
  readonly watch: KeysWatch;
}

export type KeysAnswer = KeysReply | KeysRead | KeysWatchAnswer;

export function isKeysMethod(method: string): method is KeysMethod {
  return KEYS_METHODS.has(method);
}

/**
 * Answers one v2 keys request as etcd 3.4 does: parse, check access, then read (through Raft for
 * `quorum=true`), watch, or propose. Every etcd error becomes its answer; anything else throws.
 */
export async function answerKeys(host: KeysHost, call: KeysCall): Promise<KeysAnswer> {
  try {
    const request = parseCall(call);
    const write = request.method !== 'GET' && request.method !== 'HEAD';
    if (!(await call.allowed([{ key: call.keyPath, recursive: request.recursive, write }]))) {
      return keysError(host, new StoreError(ErrorCodes.Unauthorized, 'Insufficient credentials', 0));
    }
    if (!write) return await answerRead(host, request, call.now);
    const applied = await host.proposeKeys(commandFor(request, call.now));
    return { kind: 'reply', status: eventStatus(applied.event), headers: keysHeaders(host, applied.etcdIndex, true), body: successBody(applied.event, request.noValueOnSuccess) };
  } catch (error) {
    if (error instanceof StoreError) return keysError(host, error);
    throw error;
  }
}

/** The answer to an etcd error: its HTTP status and JSON body, with the index it carries. */
export function keysError(host: KeysHost, error: StoreError): KeysReply {
  return { kind: 'reply', status: errorStatus(error.errorCode), headers: keysHeaders(host, error.index, false), body: `${JSON.stringify(error.toJSON())}\n` };
}

/** etcd's headers of a keys or txn answer at `etcdIndex`. */
export function keysHeaders(host: KeysHost, etcdIndex: number, withRaft: boolean): KeysHeaders {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-etcd-cluster-id': clusterIdText(host.clusterId),
    'x-etcd-index': String(etcdIndex),
  };
  if (withRaft) {
    headers['x-raft-index'] = String(host.raftIndex);
    headers['x-raft-term'] = String(host.term);
  }
  return headers;
}

/** The last cluster id formatted: the same one for every answer, and formatting it showed in a long-poll profile. */
let lastClusterId = { id: 0, text: formatId(0) };
function clusterIdText(id: number): string {
  if (lastClusterId.id !== id) lastClusterId = { id, text: formatId(id) };
  return lastClusterId.text;
}

/** The form and then the request, refused (as StoreError) in etcd's order. */
function parseCall(call: KeysCall): KeysRequest {
  try {
    const { form, error } = parseForm(call.method, call.query, call.contentType, call.body);
    if (error !== undefined) throw new StoreError(ErrorCodes.InvalidForm, error.message, 0);
    return parseKeysRequest(call.method, call.keyPath, form);
  } catch (error) {
    if (error instanceof FormError) throw new StoreError(ErrorCodes.InvalidForm, error.message, 0);
    throw error;
  }
}

async function answerRead(host: KeysHost, request: KeysRequest, now: number): Promise<KeysAnswer> {
  // etcd turns a quorum GET into a read through Raft before it looks at `wait`: no watch.
  const quorumGet = request.method === 'GET' && request.quorum;
  if (request.wait && !quorumGet) {
    const watch = new KeysWatch(host, request);
    return { kind: 'watch', status: 200, headers: keysHeaders(host, watch.index, true), watch };
  }
  if (request.quorum) await host.linearizableRead();
  // The store is read after the wait: a snapshot may have replaced it meanwhile.
  const read = host.store.read(request.key, request.recursive, request.sorted, now);
  return { kind: 'read', status: 200, headers: keysHeaders(host, read.index, true), read, headOnly: request.method === 'HEAD' };
}
