import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Message } from '../../src/raft/types.ts';
import { resolveConfig } from '../../src/server/config.ts';
import type { KeysCommand } from '../../src/server/keys-command.ts';
import { Logger } from '../../src/server/logger.ts';
import type { Member } from '../../src/server/member.ts';
import { startMember as startServeMember } from '../../src/server/start-member.ts';
import { StoreError } from '../../src/store/store-error.ts';

const PUT: KeysCommand = { method: 'PUT', key: '/k', value: 'v', dir: false, prevValue: '', prevIndex: 0, recursive: false, sorted: false, refresh: false, expireTime: 0, now: 0 };

/** A single member in-process, with its fatal callback and its log lines recorded. */
async function startMember(dir: string): Promise<{ member: Member; fatal: Array<{ what: string; cause: unknown }>; lines: string[] }> {
  const config = resolveConfig({
    name: 'solo', dataDir: dir, listenClientUrls: 'http://127.0.0.1:1', listenPeerUrls: 'http://127.0.0.1:2',
    initialClusterState: 'new', initialClusterToken: 'fail-stop-test', snapshotCount: 10_000, snapshotCatchupEntries: 5000,
    heartbeatInterval: 10, electionTimeout: 100, logLevel: 'info', logFormat: 'text', maxRequestBytes: 1 << 20,
  });
  const fatal: Array<{ what: string; cause: unknown }> = [];
  const lines: string[] = [];
  const { member } = await startServeMember(config, new Logger('info', 'text', (line) => lines.push(line)), undefined, (what, cause) => fatal.push({ what, cause }));
  const deadline = Date.now() + 20_000;
  while (!member.isLeader) {
    if (Date.now() > deadline) assert.fail('the single member never led');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { member, fatal, lines };
}

describe('adversarial: a member whose core or apply throws stops (fail-stop), never logs and goes on', () => {
  let dir: string;
  let member: Member | undefined;
  beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-fail-stop-'))));
  afterEach(async () => {
    await member?.stop();
    member = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('a peer message the Raft core throws on stops the member instead of being dropped with a warning', async () => {
    const started = await startMember(dir);
    member = started.member;
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
    const started = await startMember(dir);
    member = started.member;
    assert.equal((await member.proposeKeys(PUT)).event.node.value, 'v');
    member.store.set = () => {
      throw new TypeError('a bug in apply');
    };
    await assert.rejects(member.proposeKeys({ ...PUT, value: 'w' }), (error: unknown) => error instanceof StoreError && error.errorCause === 'etcdserver: server stopped');
    // The member stops once the Ready's write has landed.
    const deadline = Date.now() + 20_000;
    while (started.fatal.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(started.fatal.length, 1);
    assert.match(started.fatal[0]!.what, /cannot persist or apply/);
    assert.match(String(started.fatal[0]!.cause), /a bug in apply/);
  });
});
