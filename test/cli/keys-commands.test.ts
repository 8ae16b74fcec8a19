import assert from 'node:assert/strict';
import type { V2Event } from '../../src/api/wire.ts';
import type { DeleteOptions, GetOptions, KeysResult, SetOptions } from '../../src/client/keys-client.ts';
import { runDel } from '../../src/cli/commands/del.ts';
import { runGet } from '../../src/cli/commands/get.ts';
import { runLs } from '../../src/cli/commands/ls.ts';
import { runMkdir } from '../../src/cli/commands/mkdir.ts';
import { runPut } from '../../src/cli/commands/put.ts';
import type { KeysDeps } from '../../src/cli/global-options.ts';
import { BufferIo } from '../../src/cli/io.ts';

/** Records each call and answers with a canned event. */
class FakeKeys {
  readonly calls: Array<[string, ...unknown[]]> = [];
  private readonly event: V2Event;
  constructor(event: V2Event) {
    this.event = event;
  }
  private answer(...call: [string, ...unknown[]]): Promise<KeysResult> {
    this.calls.push(call);
    return Promise.resolve({ event: this.event, etcdIndex: 9 });
  }
  get = (key: string, options?: GetOptions) => this.answer('get', key, options);
  set = (key: string, value: string | undefined, options?: SetOptions) => this.answer('set', key, value, options);
  mkdir = (key: string, options?: { ttl?: number }) => this.answer('mkdir', key, options);
  delete = (key: string, options?: DeleteOptions) => this.answer('delete', key, options);
}

const tree: V2Event = {
  action: 'get',
  node: {
    key: '/t',
    dir: true,
    nodes: [
      { key: '/t/a', value: '1', modifiedIndex: 5, createdIndex: 5 },
      { key: '/t/d', dir: true, nodes: [{ key: '/t/d/b', value: '2' }] },
      { key: '/t/e', dir: true },
    ],
  },
};

function setup(event: V2Event): { fake: FakeKeys; io: BufferIo; deps: KeysDeps } {
  const fake = new FakeKeys(event);
  const io = new BufferIo();
  return { fake, io, deps: { client: fake, io } };
}

describe('kvctl key commands (run functions)', () => {
  it('get asks for a quorum read by default and prints the value of a file', async () => {
    const { fake, io, deps } = setup({ action: 'get', node: { key: '/a', value: 'v' } });
    await runGet({ key: '/a', recursive: false, sorted: false, consistency: 'l', format: 'simple' }, deps);
    assert.deepEqual(fake.calls, [['get', '/a', { recursive: false, sorted: false, quorum: true }]]);
    assert.deepEqual(io.stdout, ['v']);
  });

  it('get --consistency s reads locally; a directory prints key=value and key/ lines', async () => {
    const { fake, io, deps } = setup(tree);
    await runGet({ key: '/t', recursive: true, sorted: true, consistency: 's', format: 'simple' }, deps);
    assert.deepEqual(fake.calls, [['get', '/t', { recursive: true, sorted: true, quorum: false }]]);
    assert.deepEqual(io.stdout, ['/t/a=1', '/t/d/', '/t/d/b=2', '/t/e/']);
  });

  it('-w json prints the event exactly as the server sent it, on one line', async () => {
    const { io, deps } = setup(tree);
    await runGet({ key: '/t', recursive: false, sorted: false, consistency: 'l', format: 'json' }, deps);
    assert.deepEqual(io.stdout, [JSON.stringify(tree)]);
  });

  it('ls always sorts, lists keys, and marks directories with -p', async () => {
    const { fake, io, deps } = setup(tree);
    await runLs({ key: '/t', recursive: true, slash: true, consistency: 'l', format: 'simple' }, deps);
    assert.deepEqual(fake.calls, [['get', '/t', { recursive: true, sorted: true, quorum: true }]]);
    assert.deepEqual(io.stdout, ['/t/a', '/t/d/', '/t/d/b', '/t/e/']);
  });

  it('ls of a file lists the file itself', async () => {
    const { io, deps } = setup({ action: 'get', node: { key: '/f', value: 'x' } });
    await runLs({ key: '/f', recursive: false, slash: false, consistency: 'l', format: 'simple' }, deps);
    assert.deepEqual(io.stdout, ['/f']);
  });

  it('put passes only the conditions given and prints the new value', async () => {
    const { fake, io, deps } = setup({ action: 'compareAndSwap', node: { key: '/a', value: 'new' } });
    await runPut({ key: '/a', value: 'new', prevValue: 'old', prevIndex: 0, ttl: 5, format: 'simple' }, deps);
    assert.deepEqual(fake.calls, [['set', '/a', 'new', { ttl: 5, prevValue: 'old', prevIndex: 0 }]]);
    assert.deepEqual(io.stdout, ['new']);
  });

  it('del passes its flags and prints nothing in simple mode', async () => {
    const { fake, io, deps } = setup({ action: 'delete', node: { key: '/a' } });
    await runDel({ key: '/a', recursive: true, dir: false, prevIndex: 4, format: 'simple' }, deps);
    assert.deepEqual(fake.calls, [['delete', '/a', { recursive: true, dir: false, prevIndex: 4 }]]);
    assert.deepEqual(io.stdout, []);
  });

  it('mkdir creates with the ttl when given', async () => {
    const { fake, deps } = setup({ action: 'create', node: { key: '/d', dir: true } });
    await runMkdir({ key: '/d', ttl: 10, format: 'simple' }, deps);
    await runMkdir({ key: '/d', format: 'simple' }, deps);
    assert.deepEqual(fake.calls, [['mkdir', '/d', { ttl: 10 }], ['mkdir', '/d', {}]]);
  });
});
