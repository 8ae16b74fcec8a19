import type { Op } from './history.ts';
import { describeOp } from './history.ts';

/**
 * One key as a register: its value (null when it does not exist) and its modifiedIndex, unknown
 * (undefined) after a write whose outcome the client never learned.
 */
interface RegisterState {
  readonly value: string | null;
  readonly index: number | undefined;
}

const ABSENT: RegisterState = { value: null, index: 0 };

/** The ops of one key that the register model covers: writes, compare-and-swap/delete, quorum reads. */
const MODELLED = new Set(['set', 'cas', 'cad', 'qget']);

export interface LinearizabilityResult {
  readonly ok: boolean;
  /** Set when the search gave up (too many states): neither a pass nor a failure. */
  readonly inconclusive?: boolean;
  readonly explored: number;
}

/** How many (linearized set, state) pairs one key's search may visit before it gives up. */
const SEARCH_BUDGET = 400_000;

/**
 * Whether one key's history is linearizable (Wing & Gong's search, with Lowe's memoisation of
 * the linearized set and state, as Porcupine does). An op may take effect at any point between
 * its invocation and its completion; one whose outcome is unknown may also never take effect.
 * Failed reads say nothing and are left out.
 */
export function checkKeyLinearizable(ops: readonly Op[]): LinearizabilityResult {
  const history = ops.filter((op) => MODELLED.has(op.kind) && !(op.outcome === 'failed' && op.errorCode === undefined) && !(op.kind === 'qget' && op.outcome !== 'ok'));
  const mustTakePlace = history.filter((op) => op.outcome !== 'unknown').length;
  const done = new Uint8Array(history.length);
  const seen = new Set<string>();
  let explored = 0;
  let placed = 0;
  let gaveUp = false;

  const search = (state: RegisterState): boolean => {
    if (placed === mustTakePlace) return true;
    if (explored > SEARCH_BUDGET) {
      gaveUp = true;
      return false;
    }
    // An op may go next only if no other op still to place completed before it was invoked.
    let earliestEnd = Infinity;
    for (let i = 0; i < history.length; i++) if (done[i] === 0 && history[i]!.complete < earliestEnd) earliestEnd = history[i]!.complete;
    for (let i = 0; i < history.length; i++) {
      const op = history[i]!;
      if (done[i] === 1 || op.invoke > earliestEnd) continue;
      for (const next of step(state, op)) {
        done[i] = 1;
        const key = `${stateKey(next)}|${done.join('')}`;
        if (!seen.has(key)) {
          seen.add(key);
          explored++;
          if (op.outcome !== 'unknown') placed++;
          const found = search(next);
          if (op.outcome !== 'unknown') placed--;
          if (found) return true;
        }
        done[i] = 0;
      }
    }
    return false;
  };
  const ok = search(ABSENT);
  return gaveUp && !ok ? { ok: true, inconclusive: true, explored } : { ok, explored };
}

function stateKey(state: RegisterState): string {
  return `${state.value === null ? '-' : `=${state.value}`}@${state.index ?? '?'}`;
}

/** The states the register may be in after `op` takes effect in `state` (none: it cannot here). */
function step(state: RegisterState, op: Op): RegisterState[] {
  switch (op.kind) {
    case 'set':
      return write(state, op, true);
    case 'cas':
    case 'cad': {
      const holds = precondition(state, op);
      if (op.outcome === 'failed') {
        // The store's own answers: 100 (no such key) and 101 (compare failed) change nothing.
        if (op.errorCode === 100) return state.value === null ? [state] : [];
        return holds !== true && state.value !== null ? [state] : [];
      }
      if (op.outcome === 'ok') return holds === false ? [] : write(state, op, op.kind === 'cas');
      // Unknown: it took effect if the compare held; when that cannot be told, either way.
      if (holds === true) return write(state, op, op.kind === 'cas');
      if (holds === false) return [state];
      return [state, ...write(state, op, op.kind === 'cas')];
    }
    case 'qget': {
      if (op.found === null) return state.value === null ? [state] : [];
      if (state.value !== op.found) return [];
      if (state.index !== undefined && state.index !== op.index) return [];
      return [{ value: op.found!, index: op.index }];
    }
    default:
      return [];
  }
}

/** Whether the compare of a CAS or CAD holds: undefined when the index it compares is unknown. */
function precondition(state: RegisterState, op: Op): boolean | undefined {
  if (state.value === null) return false;
  if (op.prevValue !== undefined && state.value !== op.prevValue) return false;
  if (op.prevIndex !== undefined) return state.index === undefined ? undefined : state.index === op.prevIndex;
  return true;
}

/** The state after a set, CAS or CAD takes effect; its index must move forward. */
function write(state: RegisterState, op: Op, keeps: boolean): RegisterState[] {
  const index = op.outcome === 'ok' ? op.index : undefined;
  if (index !== undefined && state.index !== undefined && index <= state.index) return [];
  return [{ value: keeps ? op.value! : null, index }];
}

/** The failing key's history, in invocation order, for the report. */
export function describeHistory(ops: readonly Op[]): string[] {
  return [...ops].filter((op) => MODELLED.has(op.kind)).sort((a, b) => a.invoke - b.invoke || a.id - b.id).map(describeOp);
}
