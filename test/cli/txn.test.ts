import assert from 'node:assert/strict';
import type { TxnRequestBody } from '../../src/api/txn-wire.ts';
import { runTxn } from '../../src/cli/commands/txn.ts';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { BufferIo } from '../../src/cli/io.ts';
import type { TxnResult } from '../../src/client/keys-client.ts';
import { parseCondition, parseOperation, parseTxnScript } from '../../src/client/txn-script.ts';

describe('kvctl txn: the condition and operation language', () => {
  it('conditions map onto v2 compares', () => {
    assert.deepEqual(parseCondition('/a == "x"'), { key: '/a', prevValue: 'x' });
    assert.deepEqual(parseCondition('a = x'), { key: '/a', prevValue: 'x' });
    assert.deepEqual(parseCondition('value(/a/b) == "two words \\"quoted\\""'), { key: '/a/b', prevValue: 'two words "quoted"' });
    assert.deepEqual(parseCondition("/a == 'raw \\n \"'"), { key: '/a', prevValue: 'raw \\n "' });
    assert.deepEqual(parseCondition('index(/acct/1) == 7'), { key: '/acct/1', prevIndex: 7 });
    assert.deepEqual(parseCondition('exists(/a)'), { key: '/a', prevExist: true });
    assert.deepEqual(parseCondition('missing(/lock)'), { key: '/lock', prevExist: false });
  });

  it('conditions v2 cannot express are refused with the reason', () => {
    assert.throws(() => parseCondition('/a != x'), /v2 compares test equality only/);
    assert.throws(() => parseCondition('/a == ""'), /cannot compare with an empty value/);
    assert.throws(() => parseCondition('index(/a) == 0'), /at least 1/);
    assert.throws(() => parseCondition('index(/a) == x'), /the index must be a whole number/);
    assert.throws(() => parseCondition('exists(/a) == 1'), /takes no comparison/);
    assert.throws(() => parseCondition('/a > 1'), /expected KEY == VALUE/);
    assert.throws(() => parseCondition('/a == "x'), /an unclosed quote/);
  });

  it('operations map onto the API\'s actions', () => {
    assert.deepEqual(parseOperation('put /a y'), { action: 'set', key: '/a', value: 'y' });
    assert.deepEqual(parseOperation('put a "y z" --ttl 30 --prev-exist false'), { action: 'set', key: '/a', value: 'y z', ttl: 30, prevExist: false });
    assert.deepEqual(parseOperation('put /d --dir'), { action: 'set', key: '/d', dir: true });
    assert.deepEqual(parseOperation('post /queue job --ttl 5'), { action: 'create', key: '/queue', value: 'job', ttl: 5 });
    assert.deepEqual(parseOperation('del /d --recursive'), { action: 'delete', key: '/d', recursive: true });
    assert.deepEqual(parseOperation('del /d --dir'), { action: 'delete', key: '/d', dir: true });
    assert.deepEqual(parseOperation('get /d --recursive --sorted'), { action: 'get', key: '/d', recursive: true, sorted: true });
  });

  it('malformed operations are refused naming the operation', () => {
    assert.throws(() => parseOperation('set /a y'), /operation "set \/a y": starts with put, post, del or get/);
    assert.throws(() => parseOperation('put /a'), /put KEY VALUE/);
    assert.throws(() => parseOperation('get /a /b'), /get KEY/);
    assert.throws(() => parseOperation('get /a --ttl 5'), /unknown option --ttl/);
    assert.throws(() => parseOperation('put /a y --ttl'), /--ttl needs a value/);
    assert.throws(() => parseOperation('put /a y --ttl -1'), /--ttl must be a whole number/);
  });

  it('a script is conditions, a blank line, then-operations, a blank line, else-operations', () => {
    assert.deepEqual(parseTxnScript('/a == x\nindex(/b) == 3\n\nput /a y\n# a comment\ndel /b\n\nget /a\n'), {
      compare: [{ key: '/a', prevValue: 'x' }, { key: '/b', prevIndex: 3 }],
      success: [{ action: 'set', key: '/a', value: 'y' }, { action: 'delete', key: '/b' }],
      failure: [{ action: 'get', key: '/a' }],
    });
    assert.deepEqual(parseTxnScript('\nput /a y\n\n\n'), { compare: [], success: [{ action: 'set', key: '/a', value: 'y' }], failure: [] });
  });
});

describe('kvctl txn (run function)', () => {
  const answer = (result: Omit<TxnResult, 'etcdIndex'>) => {
    const sent: TxnRequestBody[] = [];
    const io = new BufferIo();
    const client = { txn: (body: TxnRequestBody) => (sent.push(body), Promise.resolve({ ...result, etcdIndex: 9 })) };
    return { sent, io, deps: { client, io } };
  };
  const body: TxnRequestBody = { compare: [{ key: '/a', prevValue: 'x' }], success: [{ action: 'set', key: '/a', value: 'y' }], failure: [{ action: 'get', key: '/d' }] };

  it('prints SUCCESS and a line per operation, and exits 0 when the conditions held', async () => {
    const { sent, io, deps } = answer({ succeeded: true, responses: [{ action: 'set', node: { key: '/a', value: 'y' } }, { action: 'create', node: { key: '/q/5', value: 'j' } }] });
    assert.equal(await runTxn({ body, format: 'simple' }, deps), ExitCode.OK);
    assert.deepEqual(sent, [body]);
    assert.deepEqual(io.stdout, ['SUCCESS', 'set /a', 'create /q/5']);
  });

  it('prints FAILURE and the else-branch reads, and exits 3 when they did not', async () => {
    const { io, deps } = answer({ succeeded: false, responses: [{ action: 'get', node: { key: '/d', dir: true, nodes: [{ key: '/d/1' }, { key: '/d/2' }] } }, { action: 'get', node: { key: '/a', value: 'z' } }] });
    assert.equal(await runTxn({ body, format: 'simple' }, deps), ExitCode.PRECONDITION_FAILED);
    assert.deepEqual(io.stdout, ['FAILURE', '/d/1', '/d/2', 'z']);
  });

  it('-w json prints the API\'s answer', async () => {
    const responses = [{ action: 'get' as const, node: { key: '/a', value: 'z' } }];
    const { io, deps } = answer({ succeeded: false, responses });
    assert.equal(await runTxn({ body, format: 'json' }, deps), ExitCode.PRECONDITION_FAILED);
    assert.deepEqual(io.stdout.map((line) => JSON.parse(line) as unknown), [{ succeeded: false, responses }]);
  });
});
