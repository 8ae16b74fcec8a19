import type { AppliedEvent, AppliedLog } from './applied-log.ts';
import type { Op } from './history.ts';
import { describeOp } from './history.ts';
import { checkKeyLinearizable, describeHistory } from './linearizability.ts';
import { SIM_EPOCH } from './scheduler.ts';
import type { WatchRecord } from './sim-clients.ts';

/** What a run leaves for the checkers. */
export interface RunRecord {
  readonly ops: readonly Op[];
  readonly watches: readonly WatchRecord[];
  readonly applied: AppliedLog;
  readonly registerKeys: readonly string[];
  readonly maxSkewMs: number;
  /** Simulated time at the end of the run. */
  readonly endedAt: number;
}

/** The store's action for each kind of write a client makes. */
const ACTIONS: Readonly<Record<string, readonly string[]>> = {
  set: ['set'],
  ttl: ['set'],
  cas: ['compareAndSwap'],
  cad: ['compareAndDelete'],
  create: ['create'],
};

/** Every check of a run; each failure is one line (with the history that shows it). */
export function checkRun(run: RunRecord): string[] {
  return [
    ...run.applied.conflicts.map((c) => `members applied different events: ${c}`),
    ...checkLinearizable(run),
    ...checkAcknowledgedWrites(run),
    ...checkAppliedOnce(run),
    ...checkLocalReads(run),
    ...checkQueueOrder(run),
    ...checkWatchers(run),
    ...checkExpiries(run),
  ];
}

function checkLinearizable(run: RunRecord): string[] {
  const failures: string[] = [];
  for (const key of run.registerKeys) {
    const ops = run.ops.filter((op) => op.key === key);
    const result = checkKeyLinearizable(ops);
    if (!result.ok) failures.push(`key ${key}: the history is not linearizable:\n    ${describeHistory(ops).join('\n    ')}`);
  }
  return failures;
}

/** An acknowledged write is in the applied log, at the index its answer gave, as it was asked. */
function checkAcknowledgedWrites(run: RunRecord): string[] {
  const failures: string[] = [];
  for (const op of run.ops) {
    const actions = ACTIONS[op.kind];
    if (actions === undefined || op.outcome !== 'ok' || op.index === undefined) continue;
    const event = run.applied.events.get(op.index);
    const key = op.kind === 'create' ? op.found : op.key;
    const matches = event !== undefined && actions.includes(event.action) && event.key === key && (op.kind === 'cad' || event.value === op.value);
    if (!matches) failures.push(`acknowledged write not applied as answered: ${describeOp(op)}; the members applied at ${op.index}: ${event?.text ?? 'nothing'}`);
  }
  return failures;
}

/** Every value is written by one request: two events writing it mean a request applied twice. */
function checkAppliedOnce(run: RunRecord): string[] {
  const firstWrite = new Map<string, AppliedEvent>();
  const failures: string[] = [];
  for (const event of [...run.applied.events.values()].sort((a, b) => a.index - b.index)) {
    if (event.value === undefined || event.action === 'expire' || event.action === 'delete' || event.action === 'compareAndDelete' || event.key.startsWith('/0/')) continue;
    const first = firstWrite.get(event.value);
    if (first === undefined) firstWrite.set(event.value, event);
    else failures.push(`a request was applied twice: ${event.value} written at ${first.index} (${first.key}) and again at ${event.index} (${event.key})`);
  }
  return failures;
}

/** A local read may be stale, but what it returns was written at the index it shows. */
function checkLocalReads(run: RunRecord): string[] {
  const failures: string[] = [];
  for (const op of run.ops) {
    if (op.kind !== 'lget' || op.outcome !== 'ok' || op.found === null || op.found === undefined) continue;
    const event = run.applied.events.get(op.index ?? 0);
    if (event === undefined || event.key !== op.key || event.value !== op.found) failures.push(`a local read returned what no member wrote: ${describeOp(op)}`);
  }
  return failures;
}

/** In-order keys follow real time: a create that completed before another began has a smaller index. */
function checkQueueOrder(run: RunRecord): string[] {
  const creates = run.ops.filter((op) => op.kind === 'create' && op.outcome === 'ok');
  const failures: string[] = [];
  for (const a of creates) {
    for (const b of creates) {
      if (a.complete < b.invoke && a.index! >= b.index!) failures.push(`in-order keys out of order: ${describeOp(a)} before ${describeOp(b)}`);
    }
  }
  return failures.slice(0, 3);
}

/**
 * A watcher saw every event of its key once and in order: exactly the applied events on the key
 * from index 1 up to where it stopped, less the ranges a 401 made it skip.
 */
function checkWatchers(run: RunRecord): string[] {
  const failures: string[] = [];
  for (const watch of run.watches) {
    const skipped = (index: number) => watch.skipped.some((s) => index >= s.from && index <= s.to);
    const expected = run.applied.eventsOf(watch.key).filter((e) => e.index < watch.next && !skipped(e.index));
    const seen = watch.events.map((e) => `${e.index} ${e.text}`);
    const wanted = expected.map((e) => `${e.index} ${e.text}`);
    const at = seen.findIndex((line, i) => line !== wanted[i]);
    if (at >= 0 || seen.length !== wanted.length) {
      const i = at >= 0 ? at : Math.min(seen.length, wanted.length);
      failures.push(`watcher ${watch.name} of ${watch.key}: event ${i + 1} is ${seen[i] ?? 'missing'}, expected ${wanted[i] ?? 'none'} (saw ${seen.length}, expected ${wanted.length})`);
    }
  }
  return failures;
}

interface EventJson {
  node?: { expiration?: string };
  prevNode?: { value?: string };
}

/**
 * TTLs: no key expires before its TTL has passed on the clock of the member that took the write
 * (clocks differ by up to twice the skew), and none outlives its expiry by more than a few seconds.
 */
function checkExpiries(run: RunRecord): string[] {
  const failures: string[] = [];
  const ttlWrites = new Map(run.ops.filter((op) => op.kind === 'ttl').map((op) => [op.value!, op]));
  const last = new Map<string, AppliedEvent>();
  for (const event of [...run.applied.events.values()].sort((a, b) => a.index - b.index)) {
    if (!event.key.startsWith('/t')) continue;
    last.set(event.key, event);
    if (event.action !== 'expire') continue;
    const value = (JSON.parse(event.text) as EventJson).prevNode?.value;
    const write = value === undefined ? undefined : ttlWrites.get(value);
    if (write === undefined) continue;
    const earliest = write.invoke + write.ttl! * 1000 - 2 * run.maxSkewMs;
    if (event.at < earliest) failures.push(`key ${event.key} expired at ${(event.at / 1000).toFixed(3)} s, before its TTL ran out (${(earliest / 1000).toFixed(3)} s at the earliest): ${describeOp(write)}`);
  }
  const overdue = SIM_EPOCH + run.endedAt - 2 * run.maxSkewMs - 3000;
  for (const event of last.values()) {
    const expiration = (JSON.parse(event.text) as EventJson).node?.expiration;
    if (event.action === 'set' && expiration !== undefined && Date.parse(expiration) < overdue) failures.push(`key ${event.key} never expired: ${event.text}`);
  }
  return failures;
}
