import assert from 'node:assert/strict';
import type { StoreEvent } from '../../src/store/event.ts';
import { EventHistory } from '../../src/store/event-history.ts';
import { Store } from '../../src/store/store.ts';
import type { KeyAccess } from '../../src/server/auth.ts';
import type { KeysCommand } from '../../src/server/keys-command.ts';
import { applyCommand } from '../../src/server/keys-command.ts';
import type { KeysMethod } from '../../src/server/keys-request.ts';
import { wholeGetBody } from '../../src/server/keys-response.ts';
import type { KeysAnswer, KeysHost, KeysRead, KeysReply, KeysWatchAnswer } from '../../src/server/keys-service.ts';
import { answerKeys } from '../../src/server/keys-service.ts';

const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);
const CLUSTER_HEADERS = { 'content-type': 'application/json', 'x-etcd-cluster-id': '7e57c1d' };

/**
 * The member surface the service uses, over a real store: a write applies at once, a quorum read
 * runs `beforeRead` (a write the read must see, as one applied before its ReadIndex).
 */
class FakeMember implements KeysHost {
  store: Store;
  readonly clusterId = 0x7e57c1d;
  readonly raftIndex = 40;
  readonly term = 3;
  readonly storeReplacedListeners = new Set<() => void>();
  readonly proposed: KeysCommand[] = [];
  quorumReads = 0;
  beforeRead: (() => void) | undefined;

  constructor(historyCapacity?: number) {
    this.store = new Store(new EventHistory(historyCapacity));
  }

  proposeKeys(command: KeysCommand): Promise<{ event: StoreEvent; etcdIndex: number }> {
    this.proposed.push(command);
    return Promise.resolve().then(() => ({ event: applyCommand(this.store, command), etcdIndex: this.store.index }));
  }

  async linearizableRead(): Promise<void> {
    this.quorumReads++;
    await Promise.resolve();
    this.beforeRead?.();
  }
}

interface Call {
  readonly query?: string;
  readonly body?: string;
  readonly contentType?: string;
  readonly now?: number;
  readonly allowed?: (accesses: readonly KeyAccess[]) => Promise<boolean>;
}

function ask(member: FakeMember, method: KeysMethod, keyPath: string, call: Call = {}): Promise<KeysAnswer> {
  return answerKeys(member, {
    method,
    keyPath,
    query: call.query ?? '',
    contentType: call.contentType,
    body: call.body ?? '',
    now: call.now ?? T0,
    allowed: call.allowed ?? (() => Promise.resolve(true)),
  });
}

function reply(answer: KeysAnswer): KeysReply {
  assert.equal(answer.kind, 'reply', `a whole answer, not ${answer.kind}`);
  return answer as KeysReply;
}

function watchOf(answer: KeysAnswer): KeysWatchAnswer {
  assert.equal(answer.kind, 'watch', `a watch, not ${answer.kind}`);
  return answer as KeysWatchAnswer;
}

/** The events a watch delivers once listened to, and whether it ended. */
function listen(answer: KeysWatchAnswer): { events: StoreEvent[]; ended: () => boolean } {
  const events: StoreEvent[] = [];
  let ended = false;
  answer.watch.listen((event) => events.push(event), () => (ended = true));
  return { events, ended: () => ended };
}

describe('keys service: v2 keys requests answered with no HTTP', () => {
  it('answers a set with 201, etcd\'s headers in etcd\'s order and the event as body', async () => {
    const member = new FakeMember();
    const created = reply(await ask(member, 'PUT', '/a', { query: 'value=1' }));
    assert.equal(created.status, 201);
    assert.deepEqual(Object.entries(created.headers), Object.entries({ ...CLUSTER_HEADERS, 'x-etcd-index': '1', 'x-raft-index': '40', 'x-raft-term': '3' }));
    assert.equal(created.body, '{"action":"set","node":{"key":"/a","value":"1","modifiedIndex":1,"createdIndex":1}}\n');
    const replaced = reply(await ask(member, 'PUT', '/a', { body: 'value=2', contentType: 'application/x-www-form-urlencoded' }));
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body, '{"action":"set","node":{"key":"/a","value":"2","modifiedIndex":2,"createdIndex":2},"prevNode":{"key":"/a","value":"1","modifiedIndex":1,"createdIndex":1}}\n');
  });

  it('counts a TTL from the `now` it is given, never from the clock', async () => {
    const member = new FakeMember();
    const later = T0 + 3_600_000;
    await ask(member, 'PUT', '/t', { query: 'value=x&ttl=60', now: later });
    assert.equal(member.proposed[0]!.expireTime, later + 60_000);
    const read = await ask(member, 'GET', '/t', { now: later + 10_000 });
    assert.equal(read.kind, 'read');
    assert.match(wholeGetBody((read as KeysRead).read), /"expiration":"2026-11-30T10:01:00Z","ttl":50,/);
  });

  it('answers a compareAndSwap that fails with 412, errorCode 101 and no X-Raft headers', async () => {
    const member = new FakeMember();
    await ask(member, 'PUT', '/a', { query: 'value=1' });
    const failed = reply(await ask(member, 'PUT', '/a', { query: 'value=2&prevValue=0' }));
    assert.equal(failed.status, 412);
    assert.deepEqual(Object.entries(failed.headers), Object.entries({ ...CLUSTER_HEADERS, 'x-etcd-index': '1' }));
    assert.equal(failed.body, '{"errorCode":101,"message":"Compare failed","cause":"[0 != 1]","index":1}\n');
  });

  it('refuses a malformed request before proposing: 400 with etcd\'s code and index 0', async () => {
    const member = new FakeMember();
    const refused = reply(await ask(member, 'PUT', '/a', { query: 'value=1&ttl=soon' }));
    assert.equal(refused.status, 400);
    assert.equal(refused.body, '{"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \\"ttl\\"","index":0}\n');
    assert.equal(member.proposed.length, 0);
  });

  it('answers 401 (errorCode 110) when the access check refuses, having asked for the right access', async () => {
    const member = new FakeMember();
    const asked: KeyAccess[] = [];
    const allowed = (accesses: readonly KeyAccess[]) => {
      asked.push(...accesses);
      return Promise.resolve(false);
    };
    const refused = reply(await ask(member, 'DELETE', '/dir/x', { query: 'recursive=true', allowed }));
    assert.equal(refused.status, 401);
    assert.equal(refused.body, '{"errorCode":110,"message":"The request requires user authentication","cause":"Insufficient credentials","index":0}\n');
    assert.deepEqual(asked, [{ key: '/dir/x', recursive: true, write: true }]);
    assert.equal(member.proposed.length, 0);
    assert.equal(reply(await ask(member, 'GET', '/dir/x', { allowed: () => Promise.resolve(false) })).status, 401);
  });

  it('reads a quorum GET through linearizableRead, and the store after it', async () => {
    const member = new FakeMember();
    await ask(member, 'PUT', '/q', { query: 'value=old' });
    member.beforeRead = () => applyCommand(member.store, { ...member.proposed[0]!, value: 'new', now: T0 });
    const local = await ask(member, 'GET', '/q');
    assert.equal(member.quorumReads, 0);
    assert.match(wholeGetBody((local as KeysRead).read), /"value":"old"/);
    const quorum = await ask(member, 'GET', '/q', { query: 'quorum=true&wait=true' });
    assert.equal(member.quorumReads, 1);
    assert.equal(quorum.kind, 'read', 'a quorum GET is a read even with wait=true, as etcd\'s');
    assert.deepEqual(Object.entries(quorum.headers), Object.entries({ ...CLUSTER_HEADERS, 'x-etcd-index': '2', 'x-raft-index': '40', 'x-raft-term': '3' }));
    assert.equal(wholeGetBody((quorum as KeysRead).read), '{"action":"get","node":{"key":"/q","value":"new","modifiedIndex":2,"createdIndex":2}}\n');
    const head = await ask(member, 'HEAD', '/q');
    assert.equal(head.kind === 'read' && head.headOnly, true);
    assert.equal(reply(await ask(member, 'GET', '/missing', { query: 'quorum=true' })).status, 404);
  });

  it('registers a watch with waitIndex in the history: its first event comes from the history', async () => {
    const member = new FakeMember();
    await ask(member, 'PUT', '/w', { query: 'value=1' });
    await ask(member, 'PUT', '/w', { query: 'value=2' });
    const answer = watchOf(await ask(member, 'GET', '/w', { query: 'wait=true&waitIndex=1' }));
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-etcd-index'], '2');
    assert.equal(answer.watch.live, false, 'answered from the history: no watcher registered');
    const { events } = listen(answer);
    assert.deepEqual(events.map((e) => [e.action, e.node.value, e.node.modifiedIndex]), [['set', '1', 1]]);
  });

  it('keeps a live watch\'s events that come before anyone listens, and ends it when the store is replaced', async () => {
    const member = new FakeMember();
    const answer = watchOf(await ask(member, 'GET', '/dir', { query: 'wait=true&recursive=true&stream=true' }));
    assert.equal(answer.headers['x-etcd-index'], '0');
    await ask(member, 'PUT', '/dir/a', { query: 'value=1' });
    const { events, ended } = listen(answer);
    await ask(member, 'PUT', '/dir/b', { query: 'value=2' });
    assert.deepEqual(events.map((e) => e.node.key), ['/dir/a', '/dir/b']);
    for (const replaced of member.storeReplacedListeners) replaced();
    assert.equal(ended(), true);
    answer.watch.close();
    assert.equal(member.storeReplacedListeners.size, 0);
    assert.equal(member.store.hub.count, 0, 'the watcher left the hub');
  });

  it('answers a waitIndex that has left the history with 401 (errorCode 401)', async () => {
    const member = new FakeMember(2);
    for (let i = 0; i < 3; i++) await ask(member, 'PUT', '/w', { query: `value=${i}` });
    const cleared = reply(await ask(member, 'GET', '/w', { query: 'wait=true&waitIndex=1' }));
    assert.equal(cleared.status, 400);
    assert.equal(cleared.body, '{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [2/1]","index":3}\n');
  });
});
