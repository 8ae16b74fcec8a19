import assert from 'node:assert/strict';
import type { V2Event } from '../../src/api/wire.ts';
import type { KeysResult, WatchOptions } from '../../src/client/keys-client.ts';
import { PollWindow } from '../../src/client/poll-window.ts';

/** A server's event history: a poll answers the first event at or after its index, or waits for one. */
class FakeHistory {
  readonly events: V2Event[] = [];
  readonly polls: number[] = [];
  private waiting: Array<() => void> = [];

  add(index: number): void {
    this.events.push({ action: 'set', node: { key: `/k${index}`, value: String(index), modifiedIndex: index } });
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }

  get = (): Promise<KeysResult> => Promise.reject(new Error('not used'));

  watch = async (_key: string, options: WatchOptions): Promise<KeysResult> => {
    this.polls.push(options.waitIndex);
    for (;;) {
      const event = this.events.find((e) => e.node!.modifiedIndex! >= options.waitIndex);
      if (event !== undefined) return { event, etcdIndex: this.events.at(-1)!.node!.modifiedIndex! };
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  };
}

describe('PollWindow', () => {
  it('delivers each change once, in order, when the history has gaps (changes of other keys)', async () => {
    const history = new FakeHistory();
    for (const index of [3, 4, 7, 9, 10]) history.add(index);
    const window = new PollWindow(history, 2, 4, { key: '/', recursive: true, retryRounds: 0 });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push((await window.next()).node!.modifiedIndex!);
    window.close();
    assert.deepEqual(seen, [3, 4, 7, 9, 10]);
    assert.equal(window.serverIndex, 10);
  });

  it('keeps `width` polls in flight at the next indexes, so that changes that come later are each awaited already', async () => {
    const history = new FakeHistory();
    const window = new PollWindow(history, 0, 3, { key: '/', recursive: true, retryRounds: 0 });
    const first = window.next();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(history.polls, [1, 2, 3]);
    history.add(1);
    history.add(2);
    assert.equal((await first).node!.modifiedIndex, 1);
    assert.equal((await window.next()).node!.modifiedIndex, 2);
    assert.deepEqual(history.polls.slice(3), [4]);
    window.close();
  });
});
