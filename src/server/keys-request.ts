import { cleanPath } from '../store/clean-path.ts';
import { ErrorCodes, StoreError } from '../store/store-error.ts';
import type { Form } from './form.ts';
import { formValue } from './form.ts';

export type KeysMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

/** A parsed /v2/keys request, as etcd's parseKeyRequest makes it. */
export interface KeysRequest {
  readonly method: KeysMethod;
  /** The key, cleaned ("/" for the root). */
  readonly key: string;
  readonly value: string;
  readonly dir: boolean;
  /** "" when not given. */
  readonly prevValue: string;
  /** 0 when not given. */
  readonly prevIndex: number;
  readonly prevExist: boolean | undefined;
  readonly wait: boolean;
  readonly waitIndex: number;
  readonly recursive: boolean;
  readonly sorted: boolean;
  readonly quorum: boolean;
  readonly stream: boolean;
  /** Seconds; undefined when not given (or given empty). */
  readonly ttl: number | undefined;
  readonly refresh: boolean | undefined;
  readonly noValueOnSuccess: boolean;
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** A request error: etcd reports these with index 0. */
function requestError(code: (typeof ErrorCodes)[keyof typeof ErrorCodes], cause: string): StoreError {
  return new StoreError(code, cause, 0);
}

/** Go's strconv.ParseBool of the field's first value; undefined when the field is absent. */
function getBool(form: Form, name: string, cause: string): boolean | undefined {
  const values = form.get(name);
  if (values === undefined) return undefined;
  const text = values[0]!;
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  throw requestError(ErrorCodes.InvalidField, cause);
}

/** Go's strconv.ParseUint(v, 10, 64): digits only, no sign or space, at most 2^64-1. */
function parseUint(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  if (text.length > 20 || (text.length === 20 && text > '18446744073709551615')) return undefined;
  return Number(text);
}

function getUint(form: Form, name: string, code: (typeof ErrorCodes)[keyof typeof ErrorCodes]): number {
  const values = form.get(name);
  if (values === undefined) return 0;
  const value = parseUint(values[0]!);
  if (value === undefined) throw requestError(code, `invalid value for "${name}"`);
  return value;
}

/**
 * Parses a keys request; `keyPath` is the URL path after /v2/keys, already decoded. Throws a
 * StoreError (index 0) for the first problem, in etcd's order (ETCD-V2-NOTES 9).
 */
export function parseKeysRequest(method: KeysMethod, keyPath: string, form: Form): KeysRequest {
  const prevIndex = getUint(form, 'prevIndex', ErrorCodes.IndexNaN);
  const waitIndex = getUint(form, 'waitIndex', ErrorCodes.IndexNaN);
  const flag = (name: string) => getBool(form, name, `invalid value for "${name}"`) ?? false;
  const recursive = flag('recursive');
  const sorted = flag('sorted');
  const wait = flag('wait');
  const dir = flag('dir');
  const quorum = flag('quorum');
  const stream = flag('stream');
  if (wait && method !== 'GET') throw requestError(ErrorCodes.InvalidField, '"wait" can only be used with GET requests');
  const prevValue = formValue(form, 'prevValue');
  if (form.has('prevValue') && prevValue === '') throw requestError(ErrorCodes.PrevValueRequired, '"prevValue" cannot be empty');
  const noValueOnSuccess = flag('noValueOnSuccess');
  const ttlText = formValue(form, 'ttl');
  let ttl: number | undefined;
  if (ttlText !== '') {
    ttl = parseUint(ttlText);
    if (ttl === undefined) throw requestError(ErrorCodes.TtlNaN, 'invalid value for "ttl"');
  }
  const prevExist = getBool(form, 'prevExist', 'invalid value for prevExist');
  const refresh = getBool(form, 'refresh', 'invalid value for refresh');
  if (refresh === true) {
    if (form.has('value') && formValue(form, 'value') !== '') throw requestError(ErrorCodes.RefreshValue, 'A value was provided on a refresh');
    if (ttl === undefined) throw requestError(ErrorCodes.RefreshTtlRequired, 'No TTL value set');
  }
  return {
    method,
    key: cleanPath(`/${keyPath}`),
    value: formValue(form, 'value'),
    dir,
    prevValue,
    prevIndex,
    prevExist,
    wait,
    waitIndex,
    recursive,
    sorted,
    quorum,
    stream,
    ttl,
    refresh,
    noValueOnSuccess,
  };
}
