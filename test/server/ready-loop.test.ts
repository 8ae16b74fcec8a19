import assert from 'node:assert/strict';
import type { Ready } from '../../src/raft/raw-node.ts';
import type { Entry, HardState, Message } from '../../src/raft/types.ts';
import { message } from '../../src/raft/types.ts';
import { Logger } from '../../src/server/logger.ts';
import type { ReadyParts } from '../../src/server/ready-loop.ts';
import { ReadyLoop } from '../../src/server/ready-loop.ts';
import type { PersistRequest } from '../../src/storage/disk-storage.ts';

/** A write the test lands (or fails) when it chooses. */
interface HeldWrite {
  readonly request: PersistRequest;
  land(): void;
  fail(error: Error): void;
}

function ready(fields: Partial<Ready>): Ready {
  return { readStates: [], entries: [], committedEntries: [], messages: [], messagesAfterSync: [], mustSync: false, ...fields };
}

const commitTo = (commit: number): HardState => ({ term: 1, vote: 1, commit });
const entry = (index: number): Entry => ({ term: 1, index, type: 'normal', data: new Uint8Array(0) });
const append = (index: number): Message => message({ type: 'app', from: 1, to: 2, term: 1, index: index - 1, logTerm: 1, entries: [entry(index)] });

/**
 * A Ready loop over scripted Readys, with writes held until the test lands them: what it sends,
 * writes and snapshots is recorded in order.
 */
function scriptedLoop() {
  const readys: Ready[] = [];
  const writes: HeldWrite[] = [];
  const events: string[] = [];
  const parts = {
    core: {
      hasReady: () => readys.length > 0,
      ready: () => readys.shift()!,
      advance: (rd: Ready) => events.push(`advance ${rd.hardState?.commit ?? '-'}`),
      campaignIfAlone: () => undefined,
      basicStatus: () => ({ term: 1 }),
    },
    storage: {
      persist: (request: PersistRequest) =>
        new Promise<void>((resolve, reject) => {
          events.push(`write ${request.sync ? 'synced' : 'unsynced'}`);
          writes.push({ request, land: resolve, fail: reject });
        }),
    },
    fsm: { apply: (e: Entry) => events.push(`apply ${e.index}`), appliedIndex: 0, membershipDirty: false },
    proposals: { settle: () => undefined, proposeAgain: () => undefined },
    reads: { confirmed: () => undefined, applied: () => undefined },
    membership: { applied: () => undefined, proposeAgain: () => undefined },
    snapshots: { idle: async () => undefined, maybeSnapshot: () => events.push('maybe snapshot'), due: false },
    transport: () => ({ send: (messages: readonly Message[]) => { for (const m of messages) events.push(`send ${m.type} ${m.index}`); } }),
    clock: { now: () => 0, monotonic: () => 0 },
    log: new Logger('error', 'text', () => undefined),
    removed: () => undefined,
  };
  // The loop uses only the members above of each part.
  const loop = new ReadyLoop(parts as unknown as ReadyParts);
  const offer = (...rds: Ready[]) => {
    readys.push(...rds);
    loop.wake();
  };
  /** What the loop did, without its checks for a due snapshot. */
  const actions = () => events.filter((e) => e !== 'maybe snapshot');
  /** Makes a snapshot due (the scheduler's own count of applied entries is not under test). */
  const snapshotDue = () => (parts.snapshots.due = true);
  return { loop, writes, events, actions, offer, snapshotDue };
}

/** Lets the loop run until it waits for a write or for work. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ReadyLoop', () => {
  it('writes nothing for a Ready that needs no sync: its commit index goes with the next write, and the next Ready\'s appends go out at once', async () => {
    const { loop, writes, actions, offer } = scriptedLoop();
    const done = loop.run();
    offer(ready({ hardState: commitTo(4), committedEntries: [entry(4)] }), ready({ entries: [entry(5)], messages: [append(5)], mustSync: true }));
    await settle();
    assert.deepEqual(actions(), ['apply 4', 'advance 4', 'send app 4', 'write synced']);
    assert.equal(writes[0]!.request.hardState?.commit, 4);
    writes[0]!.land();
    await settle();
    loop.stop();
    await done;
  });

  it('writes the hard state it holds when it stops (before the storage closes)', async () => {
    const { loop, writes, actions, offer } = scriptedLoop();
    const done = loop.run();
    offer(ready({ hardState: commitTo(4), committedEntries: [entry(4)] }));
    await settle();
    loop.stop();
    await settle();
    assert.deepEqual(actions(), ['apply 4', 'advance 4', 'write unsynced']);
    assert.equal(writes[0]!.request.hardState?.commit, 4);
    writes[0]!.land();
    await done;
  });

  it('still waits for a synced write before it sends the answers that speak for it', async () => {
    const { loop, writes, actions, offer } = scriptedLoop();
    const done = loop.run();
    const answer = message({ type: 'appResp', from: 2, to: 1, term: 1, index: 5 });
    offer(ready({ entries: [entry(5)], messagesAfterSync: [answer], mustSync: true }));
    await settle();
    assert.deepEqual(actions(), ['write synced']);
    writes[0]!.land();
    await settle();
    assert.deepEqual(actions(), ['write synced', 'send appResp 5', 'advance -']);
    loop.stop();
    await done;
  });

  it('starts a snapshot only once the commit index it holds is written: the snapshot\'s index must not pass the one on disk', async () => {
    const { loop, writes, events, offer, snapshotDue } = scriptedLoop();
    const done = loop.run();
    offer(ready({ hardState: commitTo(4), committedEntries: [entry(4)] }));
    await settle();
    events.length = 0;
    snapshotDue();
    offer(ready({ committedEntries: [] }));
    await settle();
    assert.deepEqual(events, ['advance -', 'write unsynced']);
    assert.equal(writes[0]!.request.hardState?.commit, 4);
    writes[0]!.land();
    await settle();
    assert.equal(events.at(-1), 'maybe snapshot');
    loop.stop();
    await done;
  });

  it('stops with the failure of a write it did not wait for (fail-stop)', async () => {
    const { loop, writes, offer, snapshotDue } = scriptedLoop();
    const done = loop.run();
    offer(ready({ hardState: commitTo(4) }));
    snapshotDue();
    await settle();
    writes[0]!.fail(new Error('IO error: No space left on device'));
    await assert.rejects(done, /No space left/);
  });
});
