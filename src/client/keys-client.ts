import { ErrorCode } from '../api/error-code.ts';
import { keysApiPath } from '../api/key-path.ts';
import type { TxnErrorBody, TxnRequestBody, TxnResponseBody } from '../api/txn-wire.ts';
import type { V2Event } from '../api/wire.ts';
import { isV2ErrorBody } from '../api/wire.ts';
import { ApiError, EtcdError, ProtocolError, TxnOperationFailed } from './errors.ts';
import type { HttpRequest, HttpResponse, HttpTransport } from './http-transport.ts';

export interface GetOptions {
  readonly recursive?: boolean;
  readonly sorted?: boolean;
  /** Linearizable read (etcd's quorum=true). */
  readonly quorum?: boolean;
}

export interface SetOptions {
  readonly ttl?: number;
  readonly prevValue?: string;
  readonly prevIndex?: number;
  readonly prevExist?: boolean;
  readonly dir?: boolean;
}

export interface DeleteOptions {
  readonly recursive?: boolean;
  readonly dir?: boolean;
  readonly prevValue?: string;
  readonly prevIndex?: number;
}

export interface WatchOptions {
  readonly waitIndex: number;
  readonly recursive?: boolean;
  /** How long one poll may wait for an event before it is sent again (to the next endpoint). */
  readonly pollTimeoutMs: number;
  readonly signal?: AbortSignal;
}

/** A reply of the keys API: the event and the cluster index it was answered at. */
export interface KeysResult {
  readonly event: V2Event;
  /** X-Etcd-Index of the reply. */
  readonly etcdIndex: number;
}

/** A transaction's answer: which branch ran, one event per operation, and X-Etcd-Index. */
export interface TxnResult extends TxnResponseBody {
  readonly etcdIndex: number;
}

/** etcd's v2 keys API over an HttpTransport. */
export class KeysClient {
  private readonly transport: HttpTransport;

  constructor(transport: HttpTransport) {
    this.transport = transport;
  }

  get(key: string, options: GetOptions = {}): Promise<KeysResult> {
    const query = new URLSearchParams();
    if (options.recursive) query.set('recursive', 'true');
    if (options.sorted) query.set('sorted', 'true');
    if (options.quorum) query.set('quorum', 'true');
    return this.send({ method: 'GET', path: keysApiPath(key), query, idempotent: true });
  }

  set(key: string, value: string | undefined, options: SetOptions = {}): Promise<KeysResult> {
    const form = new URLSearchParams();
    if (value !== undefined) form.set('value', value);
    if (options.dir) form.set('dir', 'true');
    if (options.ttl !== undefined) form.set('ttl', String(options.ttl));
    if (options.prevValue !== undefined) form.set('prevValue', options.prevValue);
    if (options.prevIndex !== undefined) form.set('prevIndex', String(options.prevIndex));
    if (options.prevExist !== undefined) form.set('prevExist', String(options.prevExist));
    // A plain set is idempotent; a conditional write retried after it applied would fail its test.
    const idempotent = options.prevValue === undefined && options.prevIndex === undefined && options.prevExist === undefined;
    return this.send({ method: 'PUT', path: keysApiPath(key), form, idempotent });
  }

  /** An in-order key: a child of `dir` named by the cluster's index (POST). */
  createInOrder(dir: string, value: string, options: { readonly ttl?: number } = {}): Promise<KeysResult> {
    const form = new URLSearchParams({ value });
    if (options.ttl !== undefined) form.set('ttl', String(options.ttl));
    // Sent twice it would make two keys: never retried after it may have arrived.
    return this.send({ method: 'POST', path: keysApiPath(dir), form, idempotent: false });
  }

  /** Extends a key's TTL without changing its value or notifying watchers (refresh=true). */
  refresh(key: string, ttl: number, options: { readonly timeoutMs?: number } = {}): Promise<KeysResult> {
    const form = new URLSearchParams({ ttl: String(ttl), refresh: 'true', prevExist: 'true' });
    return this.send({ method: 'PUT', path: keysApiPath(key), form, idempotent: true, ...options });
  }

  /**
   * Waits for the first event at or after `waitIndex` on the key (or below it, recursively): one
   * long poll. It may come from the server's history, so polls re-armed at the next index never
   * miss an event.
   */
  watch(key: string, options: WatchOptions): Promise<KeysResult> {
    const query = new URLSearchParams({ wait: 'true', waitIndex: String(options.waitIndex) });
    if (options.recursive) query.set('recursive', 'true');
    return this.send({ method: 'GET', path: keysApiPath(key), query, idempotent: true, timeoutMs: options.pollTimeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
  }

  mkdir(key: string, options: { readonly ttl?: number } = {}): Promise<KeysResult> {
    return this.set(key, undefined, { ...options, dir: true, prevExist: false });
  }

  delete(key: string, options: DeleteOptions = {}): Promise<KeysResult> {
    return this.deleteWith(key, options, false);
  }

  /** A delete that is harmless to repeat (the caller treats "key not found" as done). */
  deleteIdempotent(key: string, options: DeleteOptions = {}): Promise<KeysResult> {
    return this.deleteWith(key, options, true);
  }

  private deleteWith(key: string, options: DeleteOptions, idempotent: boolean): Promise<KeysResult> {
    // etcd does not parse DELETE bodies: conditions go in the query.
    const query = new URLSearchParams();
    if (options.recursive) query.set('recursive', 'true');
    if (options.dir) query.set('dir', 'true');
    if (options.prevValue !== undefined) query.set('prevValue', options.prevValue);
    if (options.prevIndex !== undefined) query.set('prevIndex', String(options.prevIndex));
    return this.send({ method: 'DELETE', path: keysApiPath(key), query, idempotent });
  }

  /**
   * kvd's atomic transaction (POST /v2/txn). Resolves whichever branch ran; rejects with
   * TxnOperationFailed when an operation failed (nothing was applied). Never retried once it may
   * have arrived: the caller learns whether it applied by reading.
   */
  async txn(body: TxnRequestBody): Promise<TxnResult> {
    const response = await this.transport.request({ method: 'POST', path: '/v2/txn', body: JSON.stringify(body), contentType: 'application/json', idempotent: false });
    if (response.status === 501) throw new ApiError(501, `${response.endpoint} does not take this request (501 Not Implemented: a read-only proxy refuses writes)`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.body);
    } catch {
      throw new ProtocolError(`${response.endpoint} answered ${response.status} to a transaction with a body that is not JSON (is it kvd?)`);
    }
    if (isV2ErrorBody(parsed)) {
      const failed = (parsed as TxnErrorBody).failedOperation;
      throw failed === undefined ? new EtcdError(parsed, response.status) : new TxnOperationFailed(parsed, response.status, failed);
    }
    const result = parsed as TxnResponseBody;
    if (response.status !== 200 || typeof result.succeeded !== 'boolean' || !Array.isArray(result.responses)) {
      throw new ProtocolError(`${response.endpoint} answered ${response.status} without a transaction result`);
    }
    return { ...result, etcdIndex: etcdIndexOf(response) };
  }

  private async send(request: HttpRequest): Promise<KeysResult> {
    const response = await this.transport.request(request);
    try {
      return parseKeysResponse(response);
    } catch (error) {
      throw explainRefusal(error, request);
    }
  }
}

/**
 * etcd's refusal names no permission: say which one the request needed (etcd v2's rule: a write
 * for any method but GET, and for a recursive request a `KEY*` pattern).
 */
function explainRefusal(error: unknown, request: HttpRequest): unknown {
  if (!(error instanceof EtcdError) || error.errorCode !== ErrorCode.Unauthorized) return error;
  const key = decodeURIComponent(request.path.slice('/v2/keys'.length)) || '/';
  const recursive = request.query?.get('recursive') === 'true';
  const needs = `needs ${request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'write'} permission on ${key}${recursive ? ` and everything under it (a "${key}*" pattern)` : ''}`;
  return new EtcdError({ errorCode: error.errorCode, message: error.message, cause: `${error.cause ?? 'Insufficient credentials'}: ${needs}`, index: error.index }, error.status);
}

export function parseKeysResponse(response: HttpResponse): KeysResult {
  if (response.status === 501) throw new ApiError(501, `${response.endpoint} does not take this request (501 Not Implemented: a read-only proxy refuses writes)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(response.body);
  } catch {
    throw new ProtocolError(`${response.endpoint} ${notV2Api(response)}`);
  }
  if (isV2ErrorBody(parsed)) throw new EtcdError(parsed, response.status);
  if (response.status >= 300 || typeof parsed !== 'object' || parsed === null || !('action' in parsed)) {
    throw new ProtocolError(`${response.endpoint} answered ${response.status} without a keys API event`);
  }
  return { event: parsed as V2Event, etcdIndex: etcdIndexOf(response) };
}

function etcdIndexOf(response: HttpResponse): number {
  const header = response.headers['x-etcd-index'];
  const etcdIndex = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(etcdIndex) ? etcdIndex : 0;
}

/**
 * Why an answer that is not JSON means the endpoint does not serve etcd's v2 API: an etcd 3.x
 * started without --enable-v2 answers "404 page not found", another HTTP server its own page.
 */
export function notV2Api(response: HttpResponse): string {
  const excerpt = response.body.replace(/\s+/g, ' ').trim().slice(0, 60);
  return `does not speak etcd's v2 API: it answered ${response.status} "${excerpt}" (is it an etcd 3.x started without --enable-v2, or another HTTP server?)`;
}

/** notV2Api's reason when a GET of /v2/keys/ did not answer JSON; undefined when it did. */
export function checkV2Api(response: HttpResponse): string | undefined {
  try {
    JSON.parse(response.body);
    return undefined;
  } catch {
    return notV2Api(response);
  }
}
