import type { TxnAction, TxnErrorBody, TxnResponseBody } from '../api/txn-wire.ts';
import { TXN_FIELDS } from '../api/txn-wire.ts';
import { cleanPath } from '../store/clean-path.ts';
import { ErrorCodes, StoreError } from '../store/store-error.ts';
import type { TxnCompare, TxnOutcome } from '../store/transaction.ts';
import { TxnOperationError } from '../store/transaction.ts';
import type { KeyAccess } from './auth.ts';
import type { KeysCommand, TxnCommand } from './keys-command.ts';
import { commandFor } from './keys-command.ts';
import type { KeysMethod, KeysRequest } from './keys-request.ts';
import { parseKeysRequest } from './keys-request.ts';
import { errorStatus } from './keys-response.ts';
import type { AccessCheck } from './keys-service.ts';

/** A parsed POST /v2/txn, ready to propose (its time fixed by txnCommandFor). */
export interface TxnRequest {
  readonly compare: readonly TxnCompare[];
  readonly success: readonly KeysRequest[];
  readonly failure: readonly KeysRequest[];
}

/** What to answer: the status, the JSON body and the X-Etcd-Index. */
export interface TxnAnswer {
  readonly status: number;
  readonly body: TxnResponseBody | TxnErrorBody;
  readonly etcdIndex: number;
}

const METHODS: Readonly<Record<TxnAction, KeysMethod>> = { set: 'PUT', create: 'POST', delete: 'DELETE', get: 'GET' };
const COMPARE_FIELDS = new Set(['key', 'prevValue', 'prevIndex', 'prevExist']);
const BRANCHES = ['compare', 'success', 'failure'] as const;

/** A refusal of the whole body: etcd's 209 naming the offending part, with index 0 as request errors have. */
function invalid(part: string, problem: string): StoreError {
  return new StoreError(ErrorCodes.InvalidField, `${part}: ${problem}`, 0);
}

/**
 * What a transaction reads and writes, for the permission check: its compares and gets read their
 * keys (a recursive get its tree), every other operation writes its key (a recursive delete its tree).
 */
export function txnAccesses(request: TxnRequest): KeyAccess[] {
  const reads = request.compare.map((compare) => ({ key: compare.key, recursive: false, write: false }));
  const operations = [...request.success, ...request.failure].map((operation) => ({ key: operation.key, recursive: operation.recursive, write: operation.method !== 'GET' }));
  return [...reads, ...operations];
}

/** What answering a transaction needs of its member (a Member has it). */
export interface TxnHost {
  readonly config: { readonly maxTxnOps: number };
  proposeTxn(command: TxnCommand): Promise<{ readonly outcome: TxnOutcome; readonly etcdIndex: number }>;
}

/** One POST /v2/txn as it arrived, with nothing of HTTP left in it. */
export interface TxnCall {
  readonly contentType: string | undefined;
  readonly body: string;
  /** The clock reading (ms since the epoch) that TTLs count from: the caller's, never read here. */
  readonly now: number;
  readonly allowed: AccessCheck;
}

/**
 * Checks, proposes and answers one transaction. A malformed request is refused whole before
 * anything is proposed, as is one whose accesses `allowed` refuses (etcd's 110); a failed
 * operation answers its v2 error with `failedOperation`.
 */
export async function answerTxn(host: TxnHost, call: TxnCall): Promise<TxnAnswer> {
  let request: TxnRequest;
  try {
    const contentType = (call.contentType ?? '').split(';')[0]!.trim();
    if (contentType !== 'application/json') throw new StoreError(ErrorCodes.InvalidForm, `Content-Type must be application/json, not "${contentType}"`, 0);
    request = parseTxnRequest(call.body, host.config.maxTxnOps);
  } catch (error) {
    if (error instanceof StoreError) return errorAnswer(error, 400);
    throw error;
  }
  if (!(await call.allowed(txnAccesses(request)))) return errorAnswer(new StoreError(ErrorCodes.Unauthorized, 'Insufficient credentials', 0), 401);
  try {
    const applied = await host.proposeTxn(txnCommandFor(request, call.now));
    return { status: 200, body: { succeeded: applied.outcome.succeeded, responses: [...applied.outcome.events] }, etcdIndex: applied.etcdIndex };
  } catch (error) {
    if (error instanceof TxnOperationError) return errorAnswer(error.error, errorStatus(error.error.errorCode), error.operation);
    if (error instanceof StoreError) return errorAnswer(error, errorStatus(error.errorCode));
    throw error;
  }
}

/** The answer to a body over --max-request-bytes, refused before it is read whole. */
export function txnTooLarge(): TxnAnswer {
  return errorAnswer(new StoreError(ErrorCodes.InvalidForm, 'http: request body too large', 0), 413);
}

function errorAnswer(error: StoreError, status: number, failedOperation?: number): TxnAnswer {
  const body: TxnErrorBody = error.toJSON();
  if (failedOperation !== undefined) body.failedOperation = failedOperation;
  return { status, body, etcdIndex: error.index };
}

/** The command to propose: every operation stamped with the same clock reading. */
export function txnCommandFor(request: TxnRequest, now: number): TxnCommand {
  const stamp = (operations: readonly KeysRequest[]): KeysCommand[] => operations.map((operation) => commandFor(operation, now));
  return { compare: request.compare, success: stamp(request.success), failure: stamp(request.failure) };
}

/**
 * Parses a transaction's JSON body; throws a StoreError (index 0) naming the first offending
 * part, as `success[2].ttl`. Each operation goes through the single-key API's own parser, so it
 * is refused for what a PUT, POST, DELETE or GET with those parameters would be refused for.
 */
export function parseTxnRequest(text: string, maxOps: number): TxnRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new StoreError(ErrorCodes.InvalidForm, `body: invalid JSON: ${(error as Error).message}`, 0);
  }
  if (!isObject(body)) throw invalid('body', 'must be a JSON object');
  for (const field of Object.keys(body)) {
    if (!(BRANCHES as readonly string[]).includes(field)) throw invalid(field, 'unknown field (compare, success and failure are)');
  }
  const lists = BRANCHES.map((branch) => {
    const list = body[branch] ?? [];
    if (!Array.isArray(list)) throw invalid(branch, 'must be an array');
    return list as unknown[];
  });
  const [compares, success, failure] = lists as [unknown[], unknown[], unknown[]];
  const total = compares.length + success.length + failure.length;
  if (total > maxOps) throw invalid('body', `${total} compares and operations, more than the ${maxOps} of --max-txn-ops`);
  return {
    compare: compares.map((value, i) => parseCompare(value, `compare[${i}]`)),
    success: success.map((value, i) => parseOperation(value, `success[${i}]`)),
    failure: failure.map((value, i) => parseOperation(value, `failure[${i}]`)),
  };
}

function parseCompare(value: unknown, part: string): TxnCompare {
  if (!isObject(value)) throw invalid(part, 'must be an object');
  for (const field of Object.keys(value)) if (!COMPARE_FIELDS.has(field)) throw invalid(`${part}.${field}`, 'unknown field');
  const key = keyOf(value, part);
  const { prevValue, prevIndex, prevExist } = value;
  if (prevValue !== undefined && (typeof prevValue !== 'string' || prevValue === '')) throw invalid(`${part}.prevValue`, 'must be a non-empty string');
  if (prevIndex !== undefined && !isIndex(prevIndex)) throw invalid(`${part}.prevIndex`, 'must be a positive integer');
  if (prevExist !== undefined && typeof prevExist !== 'boolean') throw invalid(`${part}.prevExist`, 'must be true or false');
  return {
    key: cleanPath(`/${key}`),
    ...(prevValue !== undefined ? { prevValue } : {}),
    ...(prevIndex !== undefined ? { prevIndex } : {}),
    ...(prevExist !== undefined ? { prevExist } : {}),
  };
}

function parseOperation(value: unknown, part: string): KeysRequest {
  if (!isObject(value)) throw invalid(part, 'must be an object');
  const action = value.action;
  if (typeof action !== 'string' || !Object.hasOwn(TXN_FIELDS, action)) throw invalid(`${part}.action`, 'must be one of set, create, delete, get');
  const allowed = TXN_FIELDS[action as TxnAction];
  const key = keyOf(value, part);
  const form = new Map<string, string[]>();
  for (const [field, fieldValue] of Object.entries(value)) {
    if (field === 'action' || field === 'key') continue;
    if (!allowed.includes(field)) throw invalid(`${part}.${field}`, `not a parameter of ${action} (${allowed.join(', ')} are)`);
    form.set(field, [formText(fieldValue, `${part}.${field}`, field)]);
  }
  try {
    return parseKeysRequest(METHODS[action as TxnAction], key, form);
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    throw new StoreError(error.errorCode, `${part}: ${error.errorCause ?? error.message}`, 0);
  }
}

/** A JSON field as the text of the query parameter of the same name. */
function formText(value: unknown, part: string, field: string): string {
  if (field === 'value') {
    if (typeof value !== 'string') throw invalid(part, 'must be a string');
    return value;
  }
  if (field === 'ttl') {
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalid(part, 'must be a whole number of seconds');
    return String(value);
  }
  if (typeof value !== 'boolean') throw invalid(part, 'must be true or false');
  return String(value);
}

function keyOf(value: Record<string, unknown>, part: string): string {
  if (typeof value.key !== 'string' || value.key === '') throw invalid(`${part}.key`, 'must be a non-empty string');
  return value.key;
}

function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
