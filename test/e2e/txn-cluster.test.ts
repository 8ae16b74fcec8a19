import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { V2Event, V2Node } from '../../src/api/wire.ts';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { HttpTransport } from '../../src/client/http-transport.ts';
import { KeysClient } from '../../src/client/keys-client.ts';
import { popItem, pushCounted, pushedCounterKey, waitForPushed } from '../../src/client/queue.ts';
import { KVCTL_BIN, KVD_BIN, run } from '../helpers/binary.ts';
import type { ClusterMember, TestCluster } from '../helpers/cluster.ts';
import { clusterPerSuite } from '../helpers/cluster.ts';
import { freePort } from '../helpers/ports.ts';
import { waitUntil } from '../helpers/trees.ts';

interface TxnAnswer {
  readonly status: number;
  readonly body: { succeeded?: boolean; responses?: V2Event[]; errorCode?: number; failedOperation?: number };
}

async function postTxn(endpoint: string, body: unknown): Promise<TxnAnswer> {
  const response = await fetch(`${endpoint}/v2/txn`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as TxnAnswer['body'] };
}

async function leaderOf(cluster: TestCluster): Promise<ClusterMember> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    for (const member of cluster.members.filter((m) => m.process !== undefined)) {
      const response = await fetch(`${member.clientUrl}/v2/members/leader`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      if (response?.status === 200) return cluster.member(((await response.json()) as { name: string }).name);
    }
    if (Date.now() > deadline) throw new Error('no leader');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A stream watch (recursive) whose events arrive in `events`; `until(n)` waits for n of them. */
function streamWatch(endpoint: string, key: string) {
  const controller = new AbortController();
  const events: V2Event[] = [];
  let text = '';
  let registered!: () => void;
  const ready = new Promise<void>((resolve) => (registered = resolve));
  const started = fetch(`${endpoint}/v2/keys${key}?wait=true&recursive=true&stream=true`, { signal: controller.signal }).then(async (response) => {
    // The member sends the headers once the watch is registered.
    registered();
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text += decoder.decode(chunk.value, { stream: true });
      const lines = text.split('\n');
      text = lines.pop()!;
      for (const line of lines) if (line.trim() !== '') events.push(JSON.parse(line) as V2Event);
    }
  }).catch(() => undefined);
  return {
    events,
    ready,
    async until(count: number): Promise<void> {
      const deadline = Date.now() + 20_000;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`the watch saw ${events.length} events, not ${count}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop(): Promise<void> {
      controller.abort();
      await started;
    },
  };
}

describe('POST /v2/txn and kvctl txn on a 3-member cluster', function () {
  this.timeout(120_000);
  const cluster = clusterPerSuite(3);

  it('a follower answers as the leader would; a watcher on another member sees the events whole, in order; a rolled-back one takes no index', async () => {
    const leader = await leaderOf(cluster());
    const [first, second] = cluster().members.filter((m) => m !== leader) as [ClusterMember, ClusterMember];
    await run(KVCTL_BIN, ['--endpoints', leader.clientUrl, 'put', '/tw/a', 'x']);
    const watch = streamWatch(second.clientUrl, '/tw');
    await watch.ready;
    const txn = await run(KVCTL_BIN, ['--endpoints', first.clientUrl, 'txn', '-w', 'json', '--if', '/tw/a == x', '--then', 'put /tw/a y', '--then', 'post /tw/q job', '--then', 'del /tw/a', '--then', 'get /tw --recursive --sorted']);
    assert.equal(txn.code, ExitCode.OK, txn.stderr);
    const answer = JSON.parse(txn.stdout) as { succeeded: boolean; responses: V2Event[] };
    assert.equal(answer.succeeded, true);
    assert.deepEqual(answer.responses.map((e) => e.action), ['set', 'create', 'delete', 'get']);
    const base = answer.responses[0]!.node!.modifiedIndex!;
    await watch.until(3);
    assert.deepEqual(watch.events.map((e) => `${e.action} ${e.node!.key}@${e.node!.modifiedIndex}`), [
      `set /tw/a@${base}`,
      `create /tw/q/${String(base + 1).padStart(20, '0')}@${base + 1}`,
      `delete /tw/a@${base + 2}`,
    ]);
    assert.deepEqual(watch.events, answer.responses.slice(0, 3), 'the watch gets the same events the transaction answered');

    const failed = await postTxn(second.clientUrl, { success: [{ action: 'set', key: '/tw/b', value: '1' }, { action: 'delete', key: '/tw/missing' }] });
    assert.equal(failed.status, 404);
    assert.deepEqual(failed.body, { errorCode: 100, message: 'Key not found', cause: '/tw/missing', index: base + 2, failedOperation: 1 });
    const lost = await run(KVCTL_BIN, ['--endpoints', second.clientUrl, 'txn', '--if', 'exists(/tw/a)', '--then', 'put /tw/c 1', '--else', 'get /tw/q --recursive']);
    assert.equal(lost.code, ExitCode.PRECONDITION_FAILED, lost.stderr);
    assert.match(lost.stdout, /^FAILURE\n\/tw\/q\/\d{20}\n$/);
    await run(KVCTL_BIN, ['--endpoints', first.clientUrl, 'put', '/tw/after', 'v']);
    await watch.until(4);
    await watch.stop();
    assert.equal(watch.events.length, 4);
    assert.equal(watch.events[3]!.node!.modifiedIndex, base + 3, 'the rolled-back transaction used no index');
    assert.equal(watch.events[3]!.node!.key, '/tw/after');
  });

  it('queue pop --taken: concurrent poppers move every item into the taken directory exactly once', async () => {
    const transport = new HttpTransport({ endpoints: cluster().members.map((m) => m.clientUrl), timeoutMs: 5000 });
    try {
      const client = new KeysClient(transport);
      const pushed = new Map<string, string>();
      for (let i = 0; i < 40; i++) pushed.set((await client.createInOrder('/jobs', `job-${i}`)).event.node!.key!.split('/').pop()!, `job-${i}`);
      const never = new AbortController().signal;
      const taken: string[] = [];
      await Promise.all(Array.from({ length: 4 }, async () => {
        for (let item = await popItem(client, '/jobs', { wait: false, signal: never, takenDir: '/jobs-taken' }); item !== undefined; item = await popItem(client, '/jobs', { wait: false, signal: never, takenDir: '/jobs-taken' })) taken.push(item.key!);
      }));
      assert.equal(taken.length, 40, 'no item was taken twice');
      const moved = (await client.get('/jobs-taken', { quorum: true })).event.node!.nodes!;
      assert.deepEqual(new Map(moved.map((node) => [node.key!.split('/').pop()!, node.value!])), pushed);
      assert.deepEqual(new Set(taken), new Set(moved.map((node) => node.key!)));
      await client.createInOrder('/jobs', 'last');
      const cli = await run(KVCTL_BIN, ['--endpoints', cluster().members[0]!.clientUrl, 'queue', 'pop', '/jobs', '--taken', 'jobs-taken', '-w', 'json']);
      assert.equal(cli.code, ExitCode.OK, cli.stderr);
      assert.match((JSON.parse(cli.stdout) as V2Node).key!, /^\/jobs-taken\/\d{20}$/);
      assert.equal((await run(KVCTL_BIN, ['--endpoints', cluster().members[0]!.clientUrl, 'queue', 'pop', '/jobs', '--taken', '/jobs-taken'])).code, ExitCode.KEY_NOT_FOUND);
    } finally {
      transport.close();
    }
  });

  it('queue push --counted and wait --pushed: a barrier on the items ever pushed, which taking items does not undo', async () => {
    const transport = new HttpTransport({ endpoints: cluster().members.map((m) => m.clientUrl), timeoutMs: 5000 });
    const stop = new AbortController();
    try {
      const client = new KeysClient(transport);
      let released: number | undefined;
      const barrier = waitForPushed(client, '/parts', 10, stop.signal).then((count) => (released = count));
      // Aborted in `finally` if the test fails first: that rejection is expected.
      barrier.catch(() => undefined);
      const pushes = await Promise.all(Array.from({ length: 9 }, (_, i) => pushCounted(client, '/parts', `part-${i}`)));
      assert.deepEqual(pushes.map((p) => p.pushed).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'each push raised the counter once');
      for (let i = 0; i < 5; i++) assert.ok((await popItem(client, '/parts', { wait: false, signal: stop.signal })) !== undefined);
      const waiting = await run(KVCTL_BIN, ['--endpoints', cluster().members[1]!.clientUrl, 'queue', 'wait', '/parts', '--count', '9', '--pushed']);
      assert.deepEqual([waiting.code, waiting.stdout], [ExitCode.OK, '9\n'], 'the barrier counts the 9 pushes though 5 items were taken');
      assert.equal(released, undefined, 'the barrier of 10 held at 9');
      const last = await run(KVCTL_BIN, ['--endpoints', cluster().members[2]!.clientUrl, 'queue', 'push', '/parts', 'part-9', '--counted']);
      assert.equal(last.code, ExitCode.OK, last.stderr);
      assert.equal(await barrier, 10);
      const listing = await run(KVCTL_BIN, ['--endpoints', cluster().members[0]!.clientUrl, 'queue', 'list', '/parts']);
      assert.equal(listing.stdout.trim().split('\n').length, 5, 'the counter is hidden from the items');
      assert.equal((await client.get(pushedCounterKey('/parts'), { quorum: true })).event.node!.value, '10');
    } finally {
      stop.abort();
      transport.close();
    }
  });

  it('a proxy forwards transactions', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const endpoints = cluster().members.map((m) => m.clientUrl).join(',');
    const proxy: ChildProcess = spawn(KVD_BIN, ['serve', '--name', 'proxy', '--proxy', 'on', '--listen-client-urls', url, '--endpoints', endpoints], { stdio: 'ignore' });
    const closed = new Promise((resolve) => proxy.once('close', resolve));
    try {
      await waitUntil('the proxy to come up', () => fetch(`${url}/health`).then((r) => r.ok, () => false));
      const answer = await postTxn(url, { compare: [{ key: '/tp/a', prevExist: false }], success: [{ action: 'set', key: '/tp/a', value: 'via proxy' }] });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.succeeded, true);
      assert.equal(answer.body.responses![0]!.node!.value, 'via proxy');
      const again = await run(KVCTL_BIN, ['--endpoints', url, 'txn', '--if', 'missing(/tp/a)', '--then', 'put /tp/a twice', '--else', 'get /tp/a']);
      assert.deepEqual([again.code, again.stdout], [ExitCode.PRECONDITION_FAILED, 'FAILURE\nvia proxy\n']);
    } finally {
      proxy.kill('SIGKILL');
      await closed;
    }
  });
});

const ACCOUNTS = 10;
const INITIAL = 100;
const CLIENTS = 8;
const TRANSFERS_PER_CLIENT = 6;

interface Transfer {
  readonly id: string;
  readonly from: number;
  readonly to: number;
  readonly amount: number;
}

/** Every account's balance and modifiedIndex, by one recursive GET (quorum or local). */
async function readAccounts(endpoint: string, quorum: boolean): Promise<Map<number, V2Node> | undefined> {
  const response = await fetch(`${endpoint}/v2/keys/bank/accounts?recursive=true${quorum ? '&quorum=true' : ''}`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
  if (response?.status !== 200) return undefined;
  const event = (await response.json()) as V2Event;
  return new Map((event.node!.nodes ?? []).map((node) => [Number(node.key!.split('/').pop()), node]));
}

const sum = (accounts: ReadonlyMap<number, V2Node>) => [...accounts.values()].reduce((total, node) => total + Number(node.value), 0);

describe('kvctl txn: the bank test (3 members, the leader killed midway)', function () {
  this.timeout(120_000);
  const cluster = clusterPerSuite(3);

  it('every quorum and local read sums to the total; the final balances are the initial ones plus the applied transfers', async () => {
    const live = () => cluster().members.filter((m) => m.process !== undefined);
    const setup = await postTxn(cluster().members[0]!.clientUrl, {
      success: Array.from({ length: ACCOUNTS }, (_, i) => ({ action: 'set', key: `/bank/accounts/${i}`, value: String(INITIAL), prevExist: false })),
    });
    assert.equal(setup.status, 200, JSON.stringify(setup.body));
    const total = ACCOUNTS * INITIAL;

    let attempted = 0;
    let leaderKilled: Promise<void> | undefined;
    let attemptedWhenKilled = Infinity;
    const acknowledged: Array<Transfer & { number: number }> = [];
    const refused: Transfer[] = [];
    const unknown: Transfer[] = [];
    const sums: number[] = [];
    let running = true;

    const reader = (async () => {
      for (let i = 0; running; i++) {
        const members = live();
        const member = members[i % members.length]!;
        const accounts = await readAccounts(member.clientUrl, i % 2 === 0);
        if (accounts !== undefined) sums.push(sum(accounts));
      }
    })();

    const client = async (c: number): Promise<void> => {
      for (let t = 0; t < TRANSFERS_PER_CLIENT; t++) {
        const endpoints = live().map((m) => m.clientUrl);
        const accounts = await readAccounts(endpoints[(c + t) % endpoints.length]!, true);
        if (accounts === undefined) {
          t--;
          continue;
        }
        const from = (c * 7 + t * 3) % ACCOUNTS;
        const to = (from + 1 + ((c + t) % (ACCOUNTS - 1))) % ACCOUNTS;
        const [a, b] = [accounts.get(from)!, accounts.get(to)!];
        const amount = Math.min(Number(a.value), 1 + ((c * 13 + t * 5) % 25));
        const transfer = { id: `c${c}-t${t}`, from, to, amount };
        if (++attempted === Math.floor((CLIENTS * TRANSFERS_PER_CLIENT) / 2)) {
          leaderKilled = leaderOf(cluster()).then(async (leader) => {
            await cluster().kill(leader);
            attemptedWhenKilled = attempted;
          });
        }
        const number = attempted;
        const result = await run(KVCTL_BIN, [
          '--endpoints', [...endpoints.slice(c % endpoints.length), ...endpoints.slice(0, c % endpoints.length)].join(','),
          'txn',
          '--if', `index(/bank/accounts/${from}) == ${a.modifiedIndex}`,
          '--if', `index(/bank/accounts/${to}) == ${b.modifiedIndex}`,
          '--then', `put /bank/accounts/${from} ${Number(a.value) - amount}`,
          '--then', `put /bank/accounts/${to} ${Number(b.value) + amount}`,
          '--then', `put /bank/log/${transfer.id} ${from}:${to}:${amount} --prev-exist false`,
        ], { timeoutMs: 30_000 });
        if (result.code === ExitCode.OK) acknowledged.push({ ...transfer, number });
        else if (result.code === ExitCode.PRECONDITION_FAILED) refused.push(transfer);
        else unknown.push(transfer);
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
    running = false;
    await reader;
    await leaderKilled;

    const endpoint = live()[0]!.clientUrl;
    const final = await readAccounts(endpoint, true);
    assert.ok(final !== undefined);
    const logResponse = await fetch(`${endpoint}/v2/keys/bank/log?quorum=true`);
    const logged = new Map((((await logResponse.json()) as V2Event).node!.nodes ?? []).map((node) => [node.key!.split('/').pop()!, node.value!]));

    assert.ok(sums.length > 10, `only ${sums.length} reads succeeded`);
    assert.deepEqual(sums.filter((s) => s !== total), [], 'a read saw part of a transfer');
    assert.ok(acknowledged.some((t) => t.number > attemptedWhenKilled), 'no transfer succeeded after the leader was killed');
    for (const transfer of acknowledged) assert.equal(logged.get(transfer.id), `${transfer.from}:${transfer.to}:${transfer.amount}`, `acknowledged ${transfer.id} is not in the log`);
    for (const transfer of refused) assert.equal(logged.has(transfer.id), false, `refused ${transfer.id} is in the log`);
    const expected = Array.from({ length: ACCOUNTS }, () => INITIAL);
    for (const value of logged.values()) {
      const [from, to, amount] = value.split(':').map(Number) as [number, number, number];
      expected[from]! -= amount;
      expected[to]! += amount;
    }
    assert.deepEqual([...final.entries()].sort(([x], [y]) => x - y).map(([, node]) => Number(node.value)), expected);
    assert.equal(logged.size, acknowledged.length + unknown.filter((t) => logged.has(t.id)).length);
  });
});
