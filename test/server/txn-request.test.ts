import assert from 'node:assert/strict';
import { expireTimeFor } from '../../src/store/store.ts';
import { StoreError } from '../../src/store/store-error.ts';
import { Store } from '../../src/store/store.ts';
import { PERMANENT } from '../../src/store/node.ts';
import { TXN_READ_BYTES, applyTxnCommand } from '../../src/server/keys-command.ts';
import { TxnOperationError } from '../../src/store/transaction.ts';
import { MalformedEntryError, decodePayload } from '../../src/server/payload.ts';
import type { TxnCommand } from '../../src/server/keys-command.ts';
import { answerTxn, parseTxnRequest, txnCommandFor } from '../../src/server/txn-request.ts';

const T0 = Date.UTC(2026, 10, 24, 6, 0, 0);

function refused(body: unknown, errorCode: number, cause: string, maxOps = 128): void {
  assert.throws(() => parseTxnRequest(typeof body === 'string' ? body : JSON.stringify(body), maxOps), (error: unknown) => {
    assert.ok(error instanceof StoreError, String(error));
    assert.deepEqual({ errorCode: error.errorCode, cause: error.errorCause, index: error.index }, { errorCode, cause, index: 0 });
    return true;
  });
}

describe('POST /v2/txn: parsing the body', () => {
  it('turns the issue\'s example into v2 requests and commands stamped with one clock', () => {
    const request = parseTxnRequest(JSON.stringify({
      compare: [{ key: '/a', prevValue: 'x' }, { key: 'b', prevIndex: 7 }, { key: '/c/', prevExist: false }],
      success: [
        { action: 'set', key: '/a', value: 'y', ttl: 30 },
        { action: 'delete', key: '/b' },
        { action: 'create', key: '/queue', value: 'job' },
        { action: 'get', key: '/d', recursive: true, sorted: true },
      ],
      failure: [{ action: 'get', key: '/a' }],
    }), 128);
    assert.deepEqual(request.compare, [{ key: '/a', prevValue: 'x' }, { key: '/b', prevIndex: 7 }, { key: '/c', prevExist: false }]);
    const command = txnCommandFor(request, T0);
    assert.deepEqual(command.success.map((c) => [c.method, c.key, c.value, c.recursive, c.sorted, c.expireTime]), [
      ['PUT', '/a', 'y', false, false, expireTimeFor(30, T0)],
      ['DELETE', '/b', '', false, false, PERMANENT],
      ['POST', '/queue', 'job', false, false, PERMANENT],
      ['QGET', '/d', '', true, true, PERMANENT],
    ]);
    assert.deepEqual(command.failure.map((c) => [c.method, c.key, c.now]), [['QGET', '/a', T0]]);
  });

  it('missing lists are empty', () => {
    assert.deepEqual(parseTxnRequest('{}', 128), { compare: [], success: [], failure: [] });
  });

  it('a body that is not a JSON object is refused', () => {
    refused('{"compare": [', 210, 'body: invalid JSON: Unexpected end of JSON input');
    refused([], 209, 'body: must be a JSON object');
    refused({ compares: [] }, 209, 'compares: unknown field (compare, success and failure are)');
    refused({ success: {} }, 209, 'success: must be an array');
  });

  it('compares are refused naming the field', () => {
    refused({ compare: [{ prevValue: 'x' }] }, 209, 'compare[0].key: must be a non-empty string');
    refused({ compare: [{ key: '/a' }, { key: '/a', prevValue: '' }] }, 209, 'compare[1].prevValue: must be a non-empty string');
    refused({ compare: [{ key: '/a', prevIndex: -1 }] }, 209, 'compare[0].prevIndex: must be a positive integer');
    refused({ compare: [{ key: '/a', prevIndex: 1.5 }] }, 209, 'compare[0].prevIndex: must be a positive integer');
    refused({ compare: [{ key: '/a', prevExist: 'yes' }] }, 209, 'compare[0].prevExist: must be true or false');
    refused({ compare: [{ key: '/a', value: 'x' }] }, 209, 'compare[0].value: unknown field');
  });

  it('operations are refused naming the field, for what the single-key API refuses', () => {
    refused({ success: [{ action: 'put', key: '/a' }] }, 209, 'success[0].action: must be one of set, create, delete, get');
    refused({ failure: [{ action: 'set' }] }, 209, 'failure[0].key: must be a non-empty string');
    refused({ success: [{ action: 'get', key: '/a', value: 'x' }] }, 209, 'success[0].value: not a parameter of get (recursive, sorted are)');
    refused({ success: [{ action: 'set', key: '/a', value: 1 }] }, 209, 'success[0].value: must be a string');
    refused({ success: [{ action: 'set', key: '/a', ttl: -1 }] }, 209, 'success[0].ttl: must be a whole number of seconds');
    refused({ success: [{ action: 'delete', key: '/a', recursive: 'true' }] }, 209, 'success[0].recursive: must be true or false');
    refused({ success: [{ action: 'set', key: '/a', refresh: true }] }, 212, 'success[0]: No TTL value set');
    refused({ success: [{ action: 'set', key: '/a', refresh: true, ttl: 5, value: 'v' }] }, 211, 'success[0]: A value was provided on a refresh');
  });

  it('more compares and operations than --max-txn-ops are refused', () => {
    const get = { action: 'get', key: '/a' };
    assert.doesNotThrow(() => parseTxnRequest(JSON.stringify({ compare: [{ key: '/a' }], success: [get], failure: [get] }), 3));
    refused({ compare: [{ key: '/a' }], success: [get, get], failure: [get] }, 209, 'body: 4 compares and operations, more than the 3 of --max-txn-ops', 3);
  });
});

describe('txn payloads', () => {
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const command = txnCommandFor(parseTxnRequest(JSON.stringify({ compare: [{ key: '/a', prevExist: false }], success: [{ action: 'set', key: '/a', value: 'v' }] }), 128), T0);

  it('a transaction travels as one payload and decodes to the same command', () => {
    assert.deepEqual(decodePayload(encode({ kind: 'txn', id: 'x-1', command })), { kind: 'txn', id: 'x-1', command });
  });

  it('a peer\'s malformed transaction is refused before it is applied', () => {
    const bad = [
      { ...command, compare: [{ key: '/a/../b' }] },
      { ...command, compare: [{ key: '/a', prevIndex: -1 }] },
      { ...command, success: [{ ...command.success[0], method: 'PATCH' }] },
      { ...command, failure: undefined },
      { ...command, success: 'set /a' },
    ];
    for (const value of bad) assert.throws(() => decodePayload(encode({ kind: 'txn', id: 'x-1', command: value })), MalformedEntryError, JSON.stringify(value));
    assert.throws(() => decodePayload(encode({ kind: 'txn', command })), MalformedEntryError);
  });

  it('applying it picks the v2 operation each command names', () => {
    const store = new Store();
    const outcome = applyTxnCommand(store, command);
    assert.deepEqual(outcome.events.map((e) => e.action), ['set']);
    const created = txnCommandFor(parseTxnRequest(JSON.stringify({ success: [{ action: 'set', key: '/b', value: 'v', prevExist: false }, { action: 'set', key: '/b', value: 'w', prevExist: true }, { action: 'create', key: '/q', value: 'j' }] }), 128), T0);
    assert.deepEqual(applyTxnCommand(store, created).events.map((e) => `${e.action} ${e.node.key}`), ['create /b', 'update /b', 'create /q/00000000000000000004']);
  });

  it('its gets return at most TXN_READ_BYTES together: a bigger answer was built in every member\'s Raft loop at once (128 gets of a 16 MB tree blocked it 10 s)', () => {
    const store = new Store();
    const value = 'v'.repeat(1000);
    const files = Math.ceil(TXN_READ_BYTES / 1000 / 2) + 10;
    for (let i = 0; i < files; i++) store.set(`/tree/d${i % 10}/k${i}`, false, value, { expireTime: PERMANENT, refresh: false }, T0);
    const txn = (body: unknown) => applyTxnCommand(store, txnCommandFor(parseTxnRequest(JSON.stringify(body), 128), T0));
    const index = store.index;
    // Half the budget: one get passes; two in one transaction do not, nor does the tree beside a write.
    assert.equal(txn({ success: [{ action: 'get', key: '/tree', recursive: true }] }).events.length, 1);
    for (const success of [
      [{ action: 'get', key: '/tree', recursive: true }, { action: 'get', key: '/tree', recursive: true }],
      [{ action: 'set', key: '/x', value: 'y' }, { action: 'get', key: '/tree', recursive: true }, { action: 'get', key: '/tree/d1', recursive: true }, { action: 'get', key: '/tree', recursive: true }],
    ]) {
      assert.throws(() => txn({ success }), (error: unknown) => {
        assert.ok(error instanceof TxnOperationError, String(error));
        assert.equal(error.error.errorCode, 209);
        assert.match(error.error.errorCause ?? '', /gets return more than \d+ bytes/);
        return true;
      });
    }
    assert.equal(store.index, index, 'a refused transaction wrote nothing');
    assert.equal(store.find('/x'), undefined);
  });
});

describe('POST /v2/txn answered with no HTTP (answerTxn)', () => {
  /** The member surface a transaction needs, over a real store. */
  function fakeMember() {
    const store = new Store();
    const proposed: TxnCommand[] = [];
    const host = {
      config: { maxTxnOps: 128 },
      proposeTxn: (command: TxnCommand) => {
        proposed.push(command);
        return Promise.resolve({ outcome: applyTxnCommand(store, command), etcdIndex: store.index });
      },
    };
    return { host, proposed };
  }
  const body = JSON.stringify({ success: [{ action: 'set', key: '/a', value: 'v', ttl: 5 }] });

  it('stamps the operations with the `now` it is given and answers their events', async () => {
    const { host, proposed } = fakeMember();
    const answer = await answerTxn(host, { contentType: 'application/json', body, now: T0, allowed: () => Promise.resolve(true) });
    assert.equal(proposed[0]!.success[0]!.expireTime, expireTimeFor(5, T0));
    assert.deepEqual([answer.status, answer.etcdIndex, 'succeeded' in answer.body && answer.body.succeeded], [200, 1, true]);
  });

  it('refuses a body that is not JSON, and accesses the check refuses, before proposing', async () => {
    const { host, proposed } = fakeMember();
    const asked: unknown[] = [];
    const allowed = (accesses: readonly unknown[]) => {
      asked.push(...accesses);
      return Promise.resolve(false);
    };
    const refused = await answerTxn(host, { contentType: 'application/json', body, now: T0, allowed });
    assert.deepEqual([refused.status, 'errorCode' in refused.body && refused.body.errorCode], [401, 110]);
    assert.deepEqual(asked, [{ key: '/a', recursive: false, write: true }]);
    const notJson = await answerTxn(host, { contentType: 'text/plain', body, now: T0, allowed: () => Promise.resolve(true) });
    assert.deepEqual([notJson.status, 'errorCode' in notJson.body && notJson.body.errorCode], [400, 210]);
    assert.equal(proposed.length, 0);
  });
});
