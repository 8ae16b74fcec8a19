import assert from 'node:assert/strict';
import type { Message } from '../../src/raft/types.ts';
import type { KeysCommand } from '../../src/server/keys-command.ts';
import { StoreError } from '../../src/store/store-error.ts';
import { soloMemberPerTest, startSoloMember } from '../helpers/solo-member.ts';
import { waitUntil } from '../helpers/trees.ts';

const PUT: KeysCommand = { method: 'PUT', key: '/k', value: 'v', dir: false, prevValue: '', prevIndex: 0, recursive: false, sorted: false, refresh: false, expireTime: 0, now: 0 };

describe('adversarial: a member whose core or apply throws stops (fail-stop), never logs and goes on', () => {
  const solo = soloMemberPerTest('kvd-fail-stop-');

  it('a peer message the Raft core throws on stops the member instead of being dropped with a warning', async () => {
    const started = solo.keep(await startSoloMember(solo.dir(), 'fail-stop-test'));
    const { member } = started;
    const broken: Message = { type: 'prop', from: member.id + 1, to: member.id, term: member.term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, context: '' };
    member.receive([broken]);
    assert.equal(started.fatal.length, 1, started.lines.join('\n'));
    assert.match(started.fatal[0]!.what, /peer message/);
    assert.match(String(started.fatal[0]!.cause), /proposal without entries/);
    assert.ok(!started.lines.some((line) => /dropped a peer message/.test(line)), started.lines.join('\n'));
    // Stopped: a write is refused, never answered success.
    await assert.rejects(member.proposeKeys(PUT));
  });

  it('an exception while applying an entry stops the member, and the write is answered a failure', async () => {
    const started = solo.keep(await startSoloMember(solo.dir(), 'fail-stop-test'));
    const { member } = started;
    assert.equal((await member.proposeKeys(PUT)).event.node.value, 'v');
    member.store.set = () => {
      throw new TypeError('a bug in apply');
    };
    await assert.rejects(member.proposeKeys({ ...PUT, value: 'w' }), (error: unknown) => error instanceof StoreError && error.errorCause === 'etcdserver: server stopped');
    // The member stops once the Ready's write has landed.
    await waitUntil('the member to stop', () => started.fatal.length > 0);
    assert.equal(started.fatal.length, 1);
    assert.match(started.fatal[0]!.what, /cannot persist or apply/);
    assert.match(String(started.fatal[0]!.cause), /a bug in apply/);
  });
});
