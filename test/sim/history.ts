/**
 * What a simulated client saw of one request: when it was sent and answered (simulated ms), and
 * how it ended. `unknown` is a request that timed out or whose member stopped under it: it may or
 * may not have taken effect (its `complete` is Infinity).
 */
export type Outcome = 'ok' | 'failed' | 'unknown';

export type OpKind = 'set' | 'cas' | 'cad' | 'qget' | 'lget' | 'create' | 'ttl';

export interface Op {
  readonly id: number;
  readonly client: string;
  readonly member: string;
  readonly kind: OpKind;
  readonly key: string;
  readonly invoke: number;
  complete: number;
  outcome: Outcome;
  /** The value written (set, cas, create, ttl). */
  readonly value?: string;
  readonly prevValue?: string;
  readonly prevIndex?: number;
  readonly ttl?: number;
  /** The store's error code when the request failed with one (100 not found, 101 compare failed). */
  errorCode?: number;
  /** For a write: the modifiedIndex its event has; for a read: the node's modifiedIndex (0 if absent). */
  index?: number;
  /** For a read: the value found, null when the key does not exist. For a create: the key made. */
  found?: string | null;
}

export function describeOp(op: Op): string {
  const args = [
    op.value !== undefined ? `value=${op.value}` : '',
    op.prevValue !== undefined ? `prevValue=${op.prevValue}` : '',
    op.prevIndex !== undefined ? `prevIndex=${op.prevIndex}` : '',
    op.ttl !== undefined ? `ttl=${op.ttl}` : '',
  ].filter((s) => s !== '').join(' ');
  const result = op.outcome === 'ok'
    ? `ok${op.index !== undefined ? ` index=${op.index}` : ''}${op.found !== undefined ? ` found=${op.found === null ? '-' : op.found}` : ''}`
    : op.outcome === 'failed' ? `failed ${op.errorCode ?? ''}`.trim() : 'unknown';
  const end = Number.isFinite(op.complete) ? (op.complete / 1000).toFixed(3) : '∞';
  return `#${op.id} ${op.client}@${op.member} ${op.kind} ${op.key} ${args} [${(op.invoke / 1000).toFixed(3)}, ${end}] -> ${result}`;
}
