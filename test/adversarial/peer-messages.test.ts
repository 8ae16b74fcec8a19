import assert from 'node:assert/strict';
import { encodeConfChange } from '../../src/raft/raft.ts';
import type { Message } from '../../src/raft/types.ts';
import { message } from '../../src/raft/types.ts';
import type { KeysCommand } from '../../src/server/keys-command.ts';
import { encodeKeysPayload } from '../../src/server/payload-codec.ts';
import { MalformedEntryError, checkEntry, decodeMemberChange, decodePayload } from '../../src/server/payload.ts';
import { decodeMessages, encodeMessages } from '../../src/server/peer-codec.ts';

/** Decoding a peer frame refuses, field by field, what no member sends. */

const heartbeat = message({ type: 'heartbeat', from: 1, to: 2, term: 3, commit: 4 });
const meta = { index: 5, term: 2, confState: { voters: [1, 2], learners: [3] } };
const command: KeysCommand = { method: 'PUT', key: '/a', value: 'v', dir: false, prevValue: '', prevIndex: 0, recursive: false, sorted: false, refresh: false, expireTime: 0, now: 1_790_000_000_000 };
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function refused(messages: readonly Message[], pattern: RegExp): void {
  assert.throws(() => decodeMessages(encodeMessages(messages)), (error: Error) => error instanceof RangeError && pattern.test(error.message));
}

/** The frame with the snapshot meta JSON replaced by `text` (the encoder writes only valid metas). */
function withMeta(text: string): Buffer {
  const good = encodeMessages([message({ type: 'snap', from: 1, to: 2, term: 3, snapshot: { meta, data: new Uint8Array([7]) } })]);
  const metaJson = Buffer.from(JSON.stringify(meta));
  const at = good.indexOf(metaJson);
  const replacement = Buffer.from(text);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(replacement.length);
  return Buffer.concat([good.subarray(0, at - 4), length, replacement, good.subarray(at + metaJson.length)]);
}

describe('adversarial: peer messages', () => {
  it('takes every kind a peer sends, with every field in range', () => {
    const batch = [
      heartbeat,
      message({ type: 'app', from: 1, to: 2, term: 3, index: 9, logTerm: 3, commit: 9, entries: [{ term: 3, index: 10, type: 'normal', data: new Uint8Array(encodeKeysPayload('id', command)) }] }),
      message({ type: 'prop', from: 2, to: 1, entries: [{ term: 0, index: 0, type: 'confChange', data: encodeConfChange({ type: 'removeNode', nodeId: 3 }) }] }),
      message({ type: 'snap', from: 1, to: 2, term: 3, snapshot: { meta, data: new Uint8Array([7]) } }),
      message({ type: 'readIndex', from: 2, to: 1, context: '0000000000000002-r7' }),
      message({ type: 'vote', from: 2, to: 1, term: 2 ** 53 - 1, index: 2 ** 53 - 1 }),
    ];
    assert.deepEqual(decodeMessages(encodeMessages(batch)), batch);
  });

  it('refuses numbers that are not integers in [0, 2^53), and member ids of 0', () => {
    for (const field of ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) {
      for (const bad of [1e300, 2 ** 60, 2 ** 53, -1, 0.5, NaN, Infinity]) refused([{ ...heartbeat, [field]: bad }], new RegExp(`${field} is not an integer`));
    }
    refused([{ ...heartbeat, from: 0 }], /from is not a member id/);
    refused([{ ...heartbeat, to: 2 ** 60 }], /to is not an integer/);
    refused([message({ type: 'app', from: 1, to: 2, term: 3, entries: [{ term: 1e300, index: 1, type: 'normal', data: new Uint8Array(0) }] })], /entry term/);
  });

  it('refuses the kinds that are only ever local, and unknown ones', () => {
    for (const type of ['hup', 'beat', 'checkQuorum', 'unreachable', 'snapStatus'] as const) refused([message({ type, from: 1, to: 2 })], /local message/);
    const frame = encodeMessages([heartbeat]);
    frame[4] = 200;
    assert.throws(() => decodeMessages(frame), /unknown message type/);
  });

  it('refuses unknown entry types and flags, and contexts that are not short UTF-8', () => {
    const app = encodeMessages([message({ type: 'app', from: 1, to: 2, term: 3, entries: [{ term: 3, index: 1, type: 'normal', data: new Uint8Array(0) }] })]);
    // count, type, 7 numbers, reject, context length, entry count, entry term and index: the entry type.
    const entryType = 4 + 1 + 56 + 1 + 4 + 4 + 16;
    app[entryType] = 2;
    assert.throws(() => decodeMessages(app), /unknown entry type/);
    const reject = encodeMessages([heartbeat]);
    reject[4 + 1 + 56] = 7;
    assert.throws(() => decodeMessages(reject), /reject is neither 0 nor 1/);
    const context = encodeMessages([{ ...heartbeat, context: 'ab' }]);
    context[4 + 1 + 56 + 1 + 4] = 0xff;
    assert.throws(() => decodeMessages(context), /context is not UTF-8/);
    refused([{ ...heartbeat, context: 'x'.repeat(257) }], /context too long/);
    refused([{ ...heartbeat, context: 'é'.repeat(129) }], /context too long/);
  });

  it('checks the snapshot meta field by field', () => {
    assert.deepEqual(decodeMessages(withMeta(JSON.stringify(meta)))[0]!.snapshot!.meta, meta);
    const bad = [
      'not json',
      'null',
      '{"index":5,"term":2}',
      '{"index":"5","term":2,"confState":{"voters":[1],"learners":[]}}',
      '{"index":5,"term":1e300,"confState":{"voters":[1],"learners":[]}}',
      '{"index":5,"term":2,"confState":{"voters":[],"learners":[]}}',
      '{"index":5,"term":2,"confState":{"voters":[1,0],"learners":[]}}',
      '{"index":5,"term":2,"confState":{"voters":[1],"learners":[1]}}',
      '{"index":5,"term":2,"confState":{"voters":"1","learners":[]}}',
    ];
    for (const text of bad) assert.throws(() => decodeMessages(withMeta(text)), RangeError, text);
  });

  it('refuses shapes no member sends: a snap without snapshot, a proposal without entries, appends out of order', () => {
    refused([message({ type: 'snap', from: 1, to: 2, term: 3 })], /snap without a snapshot/);
    refused([{ ...heartbeat, snapshot: { meta, data: new Uint8Array(0) } }], /heartbeat with a snapshot/);
    refused([message({ type: 'prop', from: 2, to: 1 })], /proposal without entries/);
    refused([{ ...heartbeat, entries: [{ term: 3, index: 1, type: 'normal', data: new Uint8Array(0) }] }], /heartbeat with entries/);
    const entries = [{ term: 3, index: 11, type: 'normal' as const, data: new Uint8Array(0) }, { term: 3, index: 13, type: 'normal' as const, data: new Uint8Array(0) }];
    refused([message({ type: 'app', from: 1, to: 2, term: 3, index: 10, entries })], /out of order/);
    refused([message({ type: 'app', from: 1, to: 2, term: 3, index: 10, entries: [{ ...entries[0]!, term: 4 }] })], /out of order/);
  });
});

describe('adversarial: entries from peers', () => {
  it('decodes every payload a member proposes', () => {
    assert.deepEqual(decodePayload(encodeKeysPayload('id-1', command)), { kind: 'keys', id: 'id-1', command });
    assert.deepEqual(decodePayload(json({ kind: 'keys', id: 'id-2', command })), { kind: 'keys', id: 'id-2', command });
    assert.deepEqual(decodePayload(json({ kind: 'expire', time: 5 })), { kind: 'expire', time: 5 });
    assert.deepEqual(decodePayload(json({ kind: 'attributes', member: 7, name: 'm1', clientURLs: ['http://a:1'] })), { kind: 'attributes', member: 7, name: 'm1', clientURLs: ['http://a:1'] });
    assert.deepEqual(decodePayload(json({ kind: 'updatePeers', member: 7, peerURLs: ['http://a:2'] })), { kind: 'updatePeers', member: 7, peerURLs: ['http://a:2'] });
    const info = { id: 9, name: '', peerURLs: ['http://b:2'], clientURLs: [], isLearner: true };
    assert.deepEqual(decodeMemberChange(encodeConfChange({ type: 'addLearner', nodeId: 9, context: JSON.stringify(info) })), { change: { type: 'addLearner', nodeId: 9, context: JSON.stringify(info) }, member: info });
    assert.deepEqual(decodeMemberChange(encodeConfChange({ type: 'removeNode', nodeId: 9 })), { change: { type: 'removeNode', nodeId: 9 } });
    checkEntry({ term: 1, index: 1, type: 'normal', data: new Uint8Array(0) });
  });

  it('refuses payloads that do not decode, or whose fields are out of range', () => {
    const bad = [
      Buffer.from([0x01, 0x00]),
      Buffer.from([0x01, 0x09, 0, ...new Array<number>(24).fill(0)]),
      encodeKeysPayload('id', { ...command, key: 'a/../b' }),
      encodeKeysPayload('id', { ...command, prevIndex: -1 }),
      encodeKeysPayload('id', { ...command, expireTime: NaN }),
      encodeKeysPayload('id', { ...command, now: Infinity }),
      encodeKeysPayload('id', { ...command, expireTime: 1e16 }),
      encodeKeysPayload('id', { ...command, now: 1e300 }),
      json({ kind: 'expire', time: 8.64e15 + 1 }),
      Buffer.from('{"kind":"keys"'),
      Buffer.from([0xff, 0xfe]),
      json([1, 2]),
      json({ kind: 'keys', id: 'x', command: { ...command, method: 'PATCH' } }),
      json({ kind: 'keys', id: 'x', command: { ...command, dir: 'yes' } }),
      json({ kind: 'expire', time: 'soon' }),
      json({ kind: 'attributes', member: 0, name: 'm', clientURLs: [] }),
      json({ kind: 'updatePeers', member: 7, peerURLs: 'http://a:2' }),
      json({ kind: 'updatePeers', member: 7, peerURLs: ['not a url'] }),
      json({ kind: 'updatePeers', member: 7, peerURLs: ['unix://a:2'] }),
      json({ kind: 'updatePeers', member: 7, peerURLs: [] }),
      json({ kind: 'unknown' }),
    ];
    for (const data of bad) assert.throws(() => decodePayload(data), MalformedEntryError, Buffer.from(data).toString('latin1'));
  });

  it('refuses membership changes that do not decode', () => {
    const bad = [
      Buffer.from('nope'),
      json({ type: 'addNode' }),
      json({ type: 'promote', nodeId: 3 }),
      json({ type: 'addNode', nodeId: 2 ** 60 }),
      json({ type: 'addNode', nodeId: 3, context: 5 }),
      json({ type: 'addNode', nodeId: 3, context: 'not json' }),
      json({ type: 'addNode', nodeId: 3, context: JSON.stringify({ id: 4, name: '', peerURLs: [], clientURLs: [] }) }),
      json({ type: 'addNode', nodeId: 3, context: JSON.stringify({ id: 3, name: '', peerURLs: [1], clientURLs: [] }) }),
      json({ type: 'addNode', nodeId: 3, context: JSON.stringify({ id: 3, name: '', peerURLs: ['a:2'], clientURLs: [] }) }),
      json({ type: 'addNode', nodeId: 3, context: JSON.stringify({ id: 3, name: '', peerURLs: [], clientURLs: [] }) }),
    ];
    for (const data of bad) {
      assert.throws(() => decodeMemberChange(data), MalformedEntryError, data.toString());
      assert.throws(() => checkEntry({ term: 1, index: 1, type: 'confChange', data }), MalformedEntryError);
    }
  });
});
