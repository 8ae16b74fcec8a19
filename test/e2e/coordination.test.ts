import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HttpTransport } from '../../src/client/http-transport.ts';
import { KeysClient } from '../../src/client/keys-client.ts';
import { popItem } from '../../src/client/queue.ts';
import { LOCKS_DIR, runLock } from '../../src/cli/commands/lock.ts';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { BufferIo } from '../../src/cli/io.ts';
import { kvctlAgainst, requireBinary, stopBackgrounds } from '../helpers/binary.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { startEtcd } from '../helpers/etcd.ts';
import { expirationOf, waitUntil } from '../helpers/trees.ts';
import { waitForWatchers, watcherCount } from '../helpers/watchers.ts';

interface Target {
  readonly endpoints: string;
  stop(): Promise<void>;
}

const TARGETS: Array<{ name: string; start: () => Promise<Target> }> = [
  { name: 'etcd 3.4', start: async () => { const etcd = await startEtcd(); return { endpoints: etcd.endpoint, stop: () => etcd.stop() }; } },
  { name: 'kvd', start: async () => { const cluster = await TestCluster.start(1); return { endpoints: cluster.endpoints, stop: () => cluster.destroy() }; } },
];

function clientFor(endpoints: string): { client: KeysClient; close: () => void } {
  const transport = new HttpTransport({ endpoints: endpoints.split(','), timeoutMs: 5000 });
  return { client: new KeysClient(transport), close: () => transport.close() };
}

async function put(endpoint: string, key: string, value: string, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(`${endpoint}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value, ...extra }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
}

for (const { name, start } of TARGETS) {
  describe(`kvctl coordination commands against ${name}`, function () {
    this.timeout(60_000);
    let target: Target;
    let endpoint: string;
    let scratch: string;
    const { kvctl, bg, holdLock } = kvctlAgainst(() => target.endpoints);

    before(async () => {
      requireBinary();
      target = await start();
      endpoint = target.endpoints.split(',')[0]!;
      scratch = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-coord-'));
    });
    afterEach(async () => {
      await stopBackgrounds();
      // Each test counts the watches of the clients it parks: none may be left from the one before.
      await waitUntil('the watches of stopped clients to end', async () => (await watcherCount(target.endpoints)) === 0);
    });
    after(async () => {
      await target?.stop();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('watch prints each change as one line, and runs a command per change with the event in env', async () => {
      // From the current index: the watch sees the writes however late the process starts.
      const now = (await fetch(`${endpoint}/v2/keys/`)).headers.get('x-etcd-index')!;
      const watch = bg('watch', '-r', '/cfg', '--count', '3', '--after-index', now);
      await put(endpoint, '/cfg/a', '1');
      await put(endpoint, '/cfg/b', '2');
      await fetch(`${endpoint}/v2/keys/cfg/a`, { method: 'DELETE' });
      assert.equal(await watch.closed, 0, watch.stderr);
      assert.equal(watch.stdout, 'set /cfg/a=1\nset /cfg/b=2\ndelete /cfg/a\n');
      const first = Number((await (await fetch(`${endpoint}/v2/keys/cfg/b`)).json() as { node: { modifiedIndex: number } }).node.modifiedIndex) - 1;
      const exec = await kvctl('watch', '-r', '/cfg', '--after-index', String(first - 1), '--count', '2', '--', 'sh', '-c', 'echo "$KVCTL_WATCH_ACTION $KVCTL_WATCH_KEY $KVCTL_WATCH_VALUE $KVCTL_WATCH_MODIFIED_INDEX $ETCD_WATCH_KEY"');
      assert.equal(exec.code, 0, exec.stderr);
      assert.equal(exec.stdout, `set /cfg/a 1 ${first} /cfg/a\nset /cfg/b 2 ${first + 1} /cfg/b\n`);
    });

    it('watch from an index the history no longer holds exits 7; with --forever it re-reads, reports the gap and goes on', async () => {
      const start = Number((await put(endpoint, '/hist/k', 'first')).headers.get('x-etcd-index'));
      for (let i = 0; i < 1010; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => put(endpoint, `/noise/${(i + j) % 50}`, 'x')));
      const cleared = await kvctl('watch', '/hist/k', '--after-index', String(start - 1));
      assert.equal(cleared.code, ExitCode.HISTORY_CLEARED, cleared.stderr);
      assert.match(cleared.stderr, /history no longer reaches back to index \d+.*events may have been missed/);
      const forever = bg('watch', '/hist', '-r', '--after-index', String(start - 1), '--forever', '--count', '1');
      await forever.waitFor(/get \/hist\/k=first\n/);
      await put(endpoint, '/hist/k', 'second');
      assert.equal(await forever.closed, 0, forever.stderr);
      assert.equal(forever.stdout, 'get /hist/k=first\nset /hist/k=second\n');
      assert.match(forever.stderr, /re-reading \/hist and going on from its current state/);
    });

    it('two lockers taking turns 50 times never hold the lock together', async () => {
      const log: string[] = [];
      const never = new AbortController().signal;
      const worker = async (who: string, rounds: number) => {
        const { client, close } = clientFor(target.endpoints);
        try {
          for (let i = 0; i < rounds; i++) {
            const code = await runLock({ name: 'turns', ttlSeconds: 5, command: ['x'], format: 'simple', limit: 1 }, {
              client, io: new BufferIo(), signal: never,
              exec: async () => {
                log.push(`enter ${who}`);
                // Not a wait for anything: the lock is held across a turn of the event loop, so that
                // the other worker runs meanwhile and an overlap would show in the log.
                await new Promise((resolve) => setTimeout(resolve, 2));
                log.push(`exit ${who}`);
                return 0;
              },
            });
            assert.equal(code, 0);
          }
        } finally {
          close();
        }
      };
      await Promise.all([worker('a', 25), worker('b', 25)]);
      assert.equal(log.length, 100);
      for (let i = 0; i < log.length; i += 2) {
        const who = log[i]!.split(' ')[1];
        assert.deepEqual([log[i], log[i + 1]], [`enter ${who}`, `exit ${who}`], `overlap at ${i}: ${log.slice(Math.max(0, i - 2), i + 3).join(', ')}`);
      }
      const { client, close } = clientFor(target.endpoints);
      try {
        const { childrenInOrder } = await import('../../src/client/turn.ts');
        assert.deepEqual((await childrenInOrder(client, `${LOCKS_DIR}/turns`)).children, [], 'every lock key was released');
      } finally {
        close();
      }
    });

    it('lock -- CMD runs under the lock and exits with its code; without CMD it holds until SIGTERM (exit 143)', async () => {
      const file = path.join(scratch, 'lock-order');
      const holder = await holdLock('files');
      const waiter = bg('lock', 'files', '--', 'sh', '-c', `echo waiter >> ${file}; exit 3`);
      await waiter.waitForStderr(/^waiting for lock files: held by /m);
      await waitForWatchers(target.endpoints, 1, 'the waiter to watch the holder\'s key');
      assert.equal(existsSync(file), false, 'the waiter ran while the lock was held');
      assert.equal(await holder.stop('SIGTERM'), 128 + 15, holder.stderr);
      assert.equal(await waiter.closed, 3, waiter.stderr);
      assert.equal(await readFile(file, 'utf8'), 'waiter\n');
    });

    it('a lock holder whose session is lost stops its command and exits 6', async () => {
      const pidFile = path.join(scratch, 'lost.pid');
      const holder = bg('lock', 'lost', '--ttl', '3', '--', 'sh', '-c', `echo $$ > ${pidFile}; exec sleep 30`);
      await waitUntil('the command\'s pid', async () => existsSync(pidFile) && (await readFile(pidFile, 'utf8')).endsWith('\n'));
      const pid = Number(await readFile(pidFile, 'utf8'));
      const dir = (await (await fetch(`${endpoint}/v2/keys${LOCKS_DIR}/lost`)).json()) as { node: { nodes: Array<{ key: string }> } };
      // What a partition longer than the TTL looks like from the server: the key is gone.
      await fetch(`${endpoint}/v2/keys${dir.node.nodes[0]!.key}`, { method: 'DELETE' });
      assert.equal(await holder.closed, ExitCode.SESSION_LOST, holder.stderr);
      assert.match(holder.stderr, /expired or was deleted/);
      assert.throws(() => process.kill(pid, 0), 'the command was stopped');
    });

    it('elect: the first candidate leads, the next takes over when it exits, and --listen follows', async () => {
      const listener = bg('elect', '--listen', 'sched');
      await listener.waitFor(/^\n$/);
      const alpha = bg('elect', 'sched', 'alpha:1');
      await alpha.waitFor(/^alpha:1\n$/);
      const beta = bg('elect', 'sched', 'beta:2');
      await waitForWatchers(target.endpoints, 2, 'the listener and beta, behind alpha, to watch');
      assert.equal(beta.stdout, '', 'beta leads while alpha does');
      assert.equal(await alpha.stop('SIGTERM'), 128 + 15, alpha.stderr);
      await beta.waitFor(/^beta:2\n$/);
      await listener.waitFor(/^\nalpha:1\nbeta:2\n$/);
      assert.equal(await beta.stop('SIGINT'), 128 + 2);
      await listener.waitFor(/^\nalpha:1\nbeta:2\n\n$/);
      assert.equal(await listener.stop('SIGTERM'), 128 + 15);
      assert.equal(listener.stderr, '');
    });

    it('queue: 4 concurrent poppers take every item exactly once', async () => {
      const { client, close } = clientFor(target.endpoints);
      try {
        const pushed = new Set<string>();
        for (let i = 0; i < 120; i += 20) {
          await Promise.all(Array.from({ length: 20 }, (_, j) => client.createInOrder('/work', `item-${i + j}`)));
          for (let j = 0; j < 20; j++) pushed.add(`item-${i + j}`);
        }
        const taken: string[] = [];
        const never = new AbortController().signal;
        await Promise.all(Array.from({ length: 4 }, async () => {
          const own = clientFor(target.endpoints);
          try {
            for (let item = await popItem(own.client, '/work', { wait: false, signal: never }); item !== undefined; item = await popItem(own.client, '/work', { wait: false, signal: never })) taken.push(item.value!);
          } finally {
            own.close();
          }
        }));
        assert.equal(taken.length, pushed.size, 'no item was taken twice');
        assert.deepEqual(new Set(taken), pushed);
      } finally {
        close();
      }
    });

    it('queue push, pop (exit 2 when empty), pop --wait and wait --count', async () => {
      assert.equal((await kvctl('queue', 'pop', '/q')).code, ExitCode.KEY_NOT_FOUND);
      const waiting = bg('queue', 'wait', '/q', '--count', '2');
      const popper = bg('queue', 'pop', '/q', '--wait');
      await waitForWatchers(target.endpoints, 2, 'the waiter and the popper to wait on the empty queue');
      assert.match((await kvctl('queue', 'push', '/q', 'one')).stdout, /^\/q\/\d{20}\n$/);
      assert.equal(await popper.closed, 0, popper.stderr);
      assert.equal(popper.stdout, 'one\n');
      await kvctl('queue', 'push', '/q', 'two');
      await kvctl('queue', 'push', '/q', 'three');
      assert.equal(await waiting.closed, 0, waiting.stderr);
      assert.equal(waiting.stdout, '2\n');
      assert.deepEqual((await kvctl('queue', 'list', '/q')).stdout.split('\n').map((l) => l.split('=')[1]), ['two', 'three', undefined]);
      assert.equal((await kvctl('queue', 'pop', '/q')).stdout, 'two\n');
    });

    it('bench put, get and watch run against it and report figures as JSON', async () => {
      const put = JSON.parse((await kvctl('bench', 'put', '--sequential', '--total', '300', '--key-space', '300', '--clients', '8', '-w', 'json')).stdout) as { ops: number; errors: object; latencyMs: { p99: number } };
      assert.equal(put.ops, 300);
      assert.deepEqual(put.errors, {});
      const get = JSON.parse((await kvctl('bench', 'get', '--total', '200', '--key-space', '300', '--clients', '4', '-w', 'json')).stdout) as { ops: number; errors: object };
      assert.deepEqual([get.ops, get.errors], [200, {}]);
      for (const mode of ['stream', 'poll']) {
        const watch = await kvctl('bench', 'watch', '--watchers', '20', '--events', '20', '--rate', '100', '--mode', mode, '-w', 'json');
        assert.equal(watch.code, 0, watch.stderr);
        const result = JSON.parse(watch.stdout) as { deliveries: number; missed: number; duplicated: number };
        assert.deepEqual([result.deliveries, result.missed, result.duplicated], [400, 0, 0]);
      }
    });

    it('register keeps an instance alive until signalled; discover lists, picks and follows', async () => {
      const web1 = bg('register', 'web', 'web-1', '10.0.0.1:80', '--ttl', '2');
      const web2 = bg('register', 'web', 'web-2', '10.0.0.2:80', '--ttl', '2');
      await web1.waitFor(/registered \/services\/web\/web-1=10\.0\.0\.1:80/);
      await web2.waitFor(/registered/);
      const expirations = await Promise.all(['web-1', 'web-2'].map((instance) => expirationOf(endpoint, `/services/web/${instance}`)));
      await waitUntil('both registrations to be refreshed past their first expiration', async () => {
        const now = await Promise.all(['web-1', 'web-2'].map((instance) => expirationOf(endpoint, `/services/web/${instance}`)));
        return now.every((at, i) => at > expirations[i]! + 1000);
      });
      const listed = await kvctl('discover', 'web');
      assert.equal(listed.stdout, 'web-1 10.0.0.1:80\nweb-2 10.0.0.2:80\n', 'still there: kept alive');
      const picks = [];
      for (let i = 0; i < 4; i++) picks.push((await kvctl('discover', 'web', '--pick', 'round-robin')).stdout.trim());
      assert.deepEqual(new Set([picks[0], picks[1]]), new Set(['10.0.0.1:80', '10.0.0.2:80']));
      assert.deepEqual(picks.slice(2), picks.slice(0, 2));
      assert.match((await kvctl('discover', 'web', '--pick', 'random')).stdout, /^10\.0\.0\.[12]:80\n$/);
      const follower = bg('discover', 'web', '--watch');
      await follower.waitFor(/web-2 10\.0\.0\.2:80\n$/);
      assert.equal(await web1.stop('SIGTERM'), 128 + 15);
      await follower.waitFor(/- web-1\n$/);
      await web2.stop('SIGKILL');
      await follower.waitFor(/- web-2\n$/);
      await follower.stop();
      const none = await kvctl('discover', 'web');
      assert.equal(none.code, ExitCode.KEY_NOT_FOUND);
      assert.match(none.stderr, /no live instance/);
    });
  });
}
