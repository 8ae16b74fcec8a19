import assert from 'node:assert/strict';
import type { Op } from './history.ts';
import { checkKeyLinearizable } from './linearizability.ts';

let nextId = 0;
function op(kind: Op['kind'], invoke: number, complete: number, fields: Partial<Op> = {}): Op {
  return { id: nextId++, client: 'c', member: 'm', kind, key: '/k', invoke, complete, outcome: 'ok', ...fields };
}

describe('cluster simulation: the linearizability checker', () => {
  it('accepts sequential writes and the reads that follow them', () => {
    const ops = [op('set', 0, 10, { value: 'a', index: 5 }), op('qget', 11, 12, { found: 'a', index: 5 }), op('set', 13, 20, { value: 'b', index: 7 }), op('qget', 21, 22, { found: 'b', index: 7 })];
    assert.equal(checkKeyLinearizable(ops).ok, true);
  });

  it('refuses a read of an older value after a newer write completed (a stale quorum read)', () => {
    const ops = [op('set', 0, 10, { value: 'a', index: 5 }), op('set', 11, 20, { value: 'b', index: 7 }), op('qget', 21, 22, { found: 'a', index: 5 })];
    assert.equal(checkKeyLinearizable(ops).ok, false);
  });

  it('lets concurrent ops take effect in either order', () => {
    const ops = [op('set', 0, 10, { value: 'a', index: 5 }), op('qget', 1, 9, { found: null, index: 0 }), op('qget', 2, 12, { found: 'a', index: 5 })];
    assert.equal(checkKeyLinearizable(ops).ok, true);
  });

  it('refuses an acknowledged write that a later read does not see (a lost write)', () => {
    const ops = [op('set', 0, 10, { value: 'a', index: 5 }), op('qget', 20, 22, { found: null, index: 0 })];
    assert.equal(checkKeyLinearizable(ops).ok, false);
  });

  it('lets a write of unknown outcome take effect, late, or never', () => {
    const unknown = { outcome: 'unknown' as const, complete: Infinity };
    const seen = [op('set', 0, Infinity, { value: 'a', ...unknown }), op('qget', 50, 52, { found: 'a', index: 9 })];
    const never = [op('set', 0, Infinity, { value: 'a', ...unknown }), op('qget', 50, 52, { found: null, index: 0 })];
    assert.equal(checkKeyLinearizable(seen).ok, true);
    assert.equal(checkKeyLinearizable(never).ok, true);
  });

  it('checks a compare-and-swap against the value it compared', () => {
    const good = [op('set', 0, 10, { value: 'a', index: 5 }), op('cas', 11, 20, { prevValue: 'a', value: 'b', index: 6 }), op('cas', 21, 30, { prevValue: 'a', value: 'c', outcome: 'failed', errorCode: 101 })];
    const bad = [op('set', 0, 10, { value: 'a', index: 5 }), op('cas', 11, 20, { prevValue: 'a', value: 'b', index: 6 }), op('cas', 21, 30, { prevValue: 'a', value: 'c', index: 8 })];
    assert.equal(checkKeyLinearizable(good).ok, true);
    assert.equal(checkKeyLinearizable(bad).ok, false);
  });

  it('refuses a write applied twice (the same value at two indexes, another write between)', () => {
    const ops = [
      op('set', 0, 10, { value: 'a', index: 5 }),
      op('set', 11, 20, { value: 'b', index: 6 }),
      op('qget', 21, 22, { found: 'b', index: 6 }),
      op('qget', 30, 31, { found: 'a', index: 9 }),
    ];
    assert.equal(checkKeyLinearizable(ops).ok, false);
  });

  it('checks a compare-and-delete by index', () => {
    const ops = [op('set', 0, 10, { value: 'a', index: 5 }), op('cad', 11, 20, { prevIndex: 5, index: 6 }), op('qget', 21, 22, { found: null, index: 0 })];
    assert.equal(checkKeyLinearizable(ops).ok, true);
    ops[2] = op('qget', 21, 22, { found: 'a', index: 5 });
    assert.equal(checkKeyLinearizable(ops).ok, false);
  });
});
