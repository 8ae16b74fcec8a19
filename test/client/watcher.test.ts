import assert from 'node:assert/strict';
import type { V2Event } from '../../src/api/wire.ts';
import { EtcdError, UnavailableError } from '../../src/client/errors.ts';
import type { KeysResult, WatchOptions } from '../../src/client/keys-client.ts';
import { HistoryClearedError, Watcher } from '../../src/client/watcher.ts';

const event = (index: number, action: V2Event['action'] = 'set'): KeysResult => ({ event: { action, node: { key: '/a', value: String(index), modifiedIndex: index, createdIndex: index } }, etcdIndex: index });

/** A fake keys client that answers watches from a script and records the waitIndex of each. */
function fake(answers: Array<KeysResult | Error>, currentIndex = 10) {
  const waits: number[] = [];
  const client = {
    get: async () => ({ event: { action: 'get' as const, node: { key: '/a', value: 'x', modifiedIndex: 3 } }, etcdIndex: currentIndex }),
    watch: async (_key: string, options: WatchOptions) => {
      waits.push(options.waitIndex);
      const next = answers.shift();
      if (next === undefined) throw new Error('the test ran out of answers');
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return { client, waits };
}

describe('Watcher: long polls re-armed at the next index', () => {
  it('starts after the key\'s current index and re-arms after each event\'s modifiedIndex', async () => {
    const { client, waits } = fake([event(11), event(15), event(16)]);
    const watcher = new Watcher(client, { key: '/a', recursive: false, retryRounds: 0 });
    const got = [await watcher.next(), await watcher.next(), await watcher.next()].map((e) => e.node?.modifiedIndex);
    assert.deepEqual(got, [11, 15, 16]);
    assert.deepEqual(waits, [11, 12, 16]);
  });

  it('starts at --after-index + 1 without reading the key', async () => {
    const { client, waits } = fake([event(5)]);
    await new Watcher(client, { key: '/a', recursive: true, afterIndex: 4, retryRounds: 0 }).next();
    assert.deepEqual(waits, [5]);
  });

  it('retries a failed poll at the same index', async () => {
    const { client, waits } = fake([new UnavailableError('down'), event(12)]);
    const warnings: string[] = [];
    const watcher = new Watcher(client, { key: '/a', recursive: false, retryRounds: 3, warn: (m) => warnings.push(m) });
    assert.equal((await watcher.next()).node?.modifiedIndex, 12);
    assert.deepEqual(waits, [11, 11]);
    assert.equal(warnings.length, 1);
  });

  it('sends a poll that timed out with nothing to report again at once, without a warning', async () => {
    const { client, waits } = fake([new UnavailableError('timed out', { timedOut: true }), new UnavailableError('timed out', { timedOut: true }), event(12)]);
    const warnings: string[] = [];
    const watcher = new Watcher(client, { key: '/a', recursive: false, retryRounds: 0, warn: (m) => warnings.push(m) });
    assert.equal((await watcher.next()).node?.modifiedIndex, 12);
    assert.deepEqual(waits, [11, 11, 11]);
    assert.deepEqual(warnings, []);
  });

  it('gives up after retryRounds rounds of failure', async () => {
    const { client } = fake([new UnavailableError('down'), new UnavailableError('down')]);
    await assert.rejects(new Watcher(client, { key: '/a', recursive: false, retryRounds: 1 }).next(), UnavailableError);
  });

  it('turns etcd error 401 into HistoryClearedError naming the index it needed', async () => {
    const cleared = new EtcdError({ errorCode: 401, message: 'The event in requested index is outdated and cleared', cause: 'the requested history has been cleared [1100/11]', index: 2100 }, 400);
    const { client } = fake([cleared]);
    const error = await new Watcher(client, { key: '/a', recursive: false, retryRounds: 3 }).next().catch((e: unknown) => e);
    assert.ok(error instanceof HistoryClearedError);
    assert.equal(error.wanted, 11);
  });

  it('never delivers an event older than the index it asked for', async () => {
    const { client } = fake([event(9)]);
    await assert.rejects(new Watcher(client, { key: '/a', recursive: false, retryRounds: 0 }).next(), /answered with an event at 9/);
  });

  it('resync goes on from the index of a fresh read', async () => {
    const { client, waits } = fake([event(41)], 40);
    const watcher = new Watcher(client, { key: '/a', recursive: false, afterIndex: 2, retryRounds: 0 });
    await watcher.resync();
    await watcher.next();
    assert.deepEqual(waits, [41]);
  });
});
