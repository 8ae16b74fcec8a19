import { normalizeKey } from '../api/key-path.ts';
import { parseNonNegativeInteger } from '../api/numbers.ts';
import type { TxnCompareBody, TxnOperationBody, TxnRequestBody } from '../api/txn-wire.ts';

/**
 * kvctl's small language for transactions (README, docs/api.md), one condition or operation per
 * line or flag; words split on spaces, "double quotes" take JSON escapes, 'single quotes' none.
 *   conditions:  KEY == VALUE | value(KEY) == VALUE | index(KEY) == N | exists(KEY) | missing(KEY)
 *                (`=` works as `==`; there is no `!=`: v2 compares only test equality)
 *   operations:  put KEY VALUE [--ttl N] [--prev-exist true|false] | put KEY --dir [--ttl N]
 *                post DIR VALUE [--ttl N]        (an in-order key below DIR)
 *                del KEY [--recursive] [--dir]   | get KEY [--recursive] [--sorted]
 * A script (stdin) is etcdctl v3's txn form: conditions, a blank line, the operations if they
 * hold, a blank line, the operations if not (a section may be empty; lines starting with # are
 * comments). Errors are RangeErrors naming the line.
 */
export function parseTxnScript(text: string): TxnRequestBody {
  const sections: string[][] = [[]];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') {
      if (sections.length < 3) sections.push([]);
    } else if (!trimmed.startsWith('#')) {
      sections.at(-1)!.push(trimmed);
    }
  }
  const [conditions = [], success = [], failure = []] = sections;
  return { compare: conditions.map(parseCondition), success: success.map(parseOperation), failure: failure.map(parseOperation) };
}

const FUNCTION = /^(value|index|exists|missing)\((.+)\)$/;

/** One condition, as `--if` takes it. */
export function parseCondition(text: string): TxnCompareBody {
  const words = split(text);
  const call = FUNCTION.exec(words[0] ?? '');
  if (call !== null && (call[1] === 'exists' || call[1] === 'missing')) {
    if (words.length !== 1) throw new RangeError(`condition "${text}": ${call[1]}(KEY) takes no comparison`);
    return { key: normalizeKey(call[2]!), prevExist: call[1] === 'exists' };
  }
  if (words.length !== 3 || (words[1] !== '==' && words[1] !== '=')) {
    const hint = words[1] === '!=' ? ': v2 compares test equality only (swap --then and --else)' : ': expected KEY == VALUE, index(KEY) == N, exists(KEY) or missing(KEY)';
    throw new RangeError(`condition "${text}"${hint}`);
  }
  const [subject, , expected] = words as [string, string, string];
  if (call?.[1] === 'index') return { key: normalizeKey(call[2]!), prevIndex: positive(text, expected) };
  const key = normalizeKey(call?.[1] === 'value' ? call[2]! : subject);
  if (expected === '') throw new RangeError(`condition "${text}": v2 cannot compare with an empty value`);
  return { key, prevValue: expected };
}

/** One operation, as `--then` and `--else` take it. */
export function parseOperation(text: string): TxnOperationBody {
  const [verb, ...rest] = split(text);
  const { positionals, flags } = options(text, rest);
  const [key, value] = positionals;
  const arity = (min: number, max: number): void => {
    if (positionals.length < min || positionals.length > max || key === undefined) throw new RangeError(`operation "${text}": ${USAGE[verb!] ?? ''}`);
  };
  const ttl = flags.get('ttl') !== undefined ? { ttl: parseNonNegativeInteger(`operation "${text}": --ttl`, flags.get('ttl')!) } : {};
  switch (verb) {
    case 'put': {
      const dir = flags.has('dir');
      arity(dir ? 1 : 2, dir ? 1 : 2);
      const prevExist = flags.get('prev-exist');
      if (prevExist !== undefined && prevExist !== 'true' && prevExist !== 'false') throw new RangeError(`operation "${text}": --prev-exist is true or false`);
      allowOnly(text, flags, ['ttl', 'dir', 'prev-exist']);
      return { action: 'set', key: normalizeKey(key!), ...(dir ? { dir: true } : { value: value! }), ...ttl, ...(prevExist !== undefined ? { prevExist: prevExist === 'true' } : {}) };
    }
    case 'post':
      arity(2, 2);
      allowOnly(text, flags, ['ttl']);
      return { action: 'create', key: normalizeKey(key!), value: value!, ...ttl };
    case 'del':
      arity(1, 1);
      allowOnly(text, flags, ['recursive', 'dir']);
      return { action: 'delete', key: normalizeKey(key!), ...(flags.has('recursive') ? { recursive: true } : {}), ...(flags.has('dir') ? { dir: true } : {}) };
    case 'get':
      arity(1, 1);
      allowOnly(text, flags, ['recursive', 'sorted']);
      return { action: 'get', key: normalizeKey(key!), ...(flags.has('recursive') ? { recursive: true } : {}), ...(flags.has('sorted') ? { sorted: true } : {}) };
    default:
      throw new RangeError(`operation "${text}": starts with put, post, del or get`);
  }
}

const USAGE: Readonly<Record<string, string>> = {
  put: 'put KEY VALUE [--ttl N] [--prev-exist true|false], or put KEY --dir [--ttl N]',
  post: 'post DIR VALUE [--ttl N]',
  del: 'del KEY [--recursive] [--dir]',
  get: 'get KEY [--recursive] [--sorted]',
};

/** Flags that take a value; the others are switches. */
const VALUED = new Set(['ttl', 'prev-exist']);

function options(text: string, words: readonly string[]): { positionals: string[]; flags: Map<string, string | undefined> } {
  const positionals: string[] = [];
  const flags = new Map<string, string | undefined>();
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith('--')) {
      positionals.push(word);
      continue;
    }
    const name = word.slice(2);
    if (!VALUED.has(name)) flags.set(name, undefined);
    else if (i + 1 < words.length) flags.set(name, words[++i]);
    else throw new RangeError(`operation "${text}": ${word} needs a value`);
  }
  return { positionals, flags };
}

function allowOnly(text: string, flags: ReadonlyMap<string, unknown>, allowed: readonly string[]): void {
  for (const name of flags.keys()) if (!allowed.includes(name)) throw new RangeError(`operation "${text}": unknown option --${name}`);
}

function positive(text: string, word: string): number {
  const index = parseNonNegativeInteger(`condition "${text}": the index`, word);
  if (index === 0) throw new RangeError(`condition "${text}": the index must be at least 1`);
  return index;
}

/** Splits on spaces; "..." is a JSON string, '...' is taken as it is. */
function split(text: string): string[] {
  const words: string[] = [];
  const pattern = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s"']\S*))/gy;
  let end = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    words.push(match[1] !== undefined ? jsonString(text, match[1]) : (match[2] ?? match[3]!));
    end = pattern.lastIndex;
  }
  if (text.slice(end).trim() !== '') throw new RangeError(`"${text}": an unclosed quote`);
  return words;
}

function jsonString(text: string, quoted: string): string {
  try {
    return JSON.parse(`"${quoted}"`) as string;
  } catch {
    throw new RangeError(`"${text}": a bad escape in "${quoted}"`);
  }
}
