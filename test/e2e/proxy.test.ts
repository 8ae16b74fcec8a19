import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { KVCTL_BIN, KVD_BIN, background, run } from '../helpers/binary.ts';
import { clusterPerSuite } from '../helpers/cluster.ts';
import { freePort } from '../helpers/ports.ts';

interface ProxyProcess {
  readonly url: string;
  log: string;
  stop(): Promise<void>;
}

/** Starts `kvd serve --proxy MODE` with the given seed flags and waits until it forwards /health. */
async function startProxy(mode: 'on' | 'readonly', seeds: readonly string[]): Promise<ProxyProcess> {
  const url = `http://127.0.0.1:${await freePort()}`;
  const child: ChildProcess = spawn(KVD_BIN, ['serve', '--name', 'proxy', '--proxy', mode, '--listen-client-urls', url, '--proxy-refresh-interval', '500', ...seeds], { stdio: ['ignore', 'ignore', 'pipe'] });
  const proxy = {
    url,
    log: '',
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await closed;
    },
  };
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.stderr?.on('data', (chunk: Buffer) => (proxy.log += chunk.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) return proxy;
    if (Date.now() > deadline || child.exitCode !== null) {
      await proxy.stop();
      throw new Error(`the proxy did not come up:\n${proxy.log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function createOnce(endpoints: readonly string[], key: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const response = await fetch(`${endpoints[attempt % endpoints.length]}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value: 'v', prevExist: 'false' }), headers: { 'content-type': 'application/x-www-form-urlencoded' }, signal: AbortSignal.timeout(3000) }).catch(() => undefined);
    if (response?.status === 201 || response?.status === 412) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`could not create ${key}`);
}

describe('kvd serve --proxy', function () {
  this.timeout(120_000);
  const cluster = clusterPerSuite(3);

  it('forwards put, get and watch, and keeps working (watches without a gap) when its member dies', async () => {
    const proxy = await startProxy('on', ['--endpoints', cluster().members[0]!.clientUrl]);
    try {
      const kvctl = (...args: string[]) => run(KVCTL_BIN, ['--endpoints', proxy.url, ...args]);
      assert.equal((await kvctl('put', '/px/hello', 'world')).stdout, 'world\n');
      assert.equal((await kvctl('get', '/px/hello')).stdout, 'world\n');
      const direct = await fetch(`${cluster().members[2]!.clientUrl}/v2/keys/px/hello`);
      assert.equal(((await direct.json()) as { node: { value: string } }).node.value, 'world');
      // It learned every member from the one it was given.
      const learned = /proxy: members clientURLs=http:\/\/127\.0\.0\.1:\d+,http:\/\/127\.0\.0\.1:\d+,http:\/\/127\.0\.0\.1:\d+/;
      for (const deadline = Date.now() + 20_000; !learned.test(proxy.log) && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.match(proxy.log, learned);

      // From the current index: the watch sees every write however late the process starts.
      const now = (await fetch(`${proxy.url}/v2/keys/`)).headers.get('x-etcd-index')!;
      const watcher = background(KVCTL_BIN, ['--endpoints', proxy.url, 'watch', '-r', '/pw', '--forever', '--count', '300', '-w', 'json', '--after-index', now]);
      // The member the proxy forwards to is the first it learned (members are listed by id, as etcd lists them).
      const forwardedTo = /proxy: members clientURLs=([^,\s]+)/.exec(proxy.log)![1];
      const victim = cluster().members.find((m) => m.clientUrl === forwardedTo)!;
      const writers = cluster().members.filter((m) => m !== victim).map((m) => m.clientUrl);
      for (let i = 0; i < 300; i++) {
        await createOnce(writers, `/pw/${i}`);
        if (i === 100) await cluster().kill(victim);
      }
      assert.equal(await watcher.closed, 0, watcher.stderr);
      const keys = watcher.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { node: { key: string } }).node.key);
      assert.deepEqual(keys, Array.from({ length: 300 }, (_, i) => `/pw/${i}`));
      const after = await kvctl('put', '/px/after', 'still');
      assert.equal(after.code, 0, `${after.stderr}\n${proxy.log}`);
      assert.match(proxy.log, /proxy: member failed/);
    } finally {
      await proxy.stop();
    }
  });

  it('readonly refuses writes with 501 (as etcd\'s read-only proxy) and serves reads; it can learn the members from --initial-cluster', async () => {
    const live = cluster().members.filter((m) => m.process !== undefined);
    await run(KVCTL_BIN, ['--endpoints', live.map((m) => m.clientUrl).join(','), 'put', '/px/hello', 'world']);
    const proxy = await startProxy('readonly', ['--initial-cluster', live.map((m) => `${m.name}=${m.peerUrl}`).join(',')]);
    try {
      const write = await fetch(`${proxy.url}/v2/keys/px/ro`, { method: 'PUT', body: 'value=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(write.status, 501);
      const read = await run(KVCTL_BIN, ['--endpoints', proxy.url, 'get', '/px/hello']);
      assert.equal(read.stdout, 'world\n');
      const refused = await run(KVCTL_BIN, ['--endpoints', proxy.url, 'put', '/px/ro', 'x']);
      assert.equal(refused.code, ExitCode.REJECTED);
      assert.match(refused.stderr, /501 Not Implemented: a read-only proxy refuses writes/);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses to start without members to forward to', async () => {
    const result = await run(KVD_BIN, ['serve', '--proxy', 'on', '--listen-client-urls', `http://127.0.0.1:${await freePort()}`]);
    assert.equal(result.code, ExitCode.USAGE);
    assert.match(result.stderr, /--proxy: give the members to forward to, with --endpoints \(client URLs\) or --initial-cluster \(peer URLs\)/);
  });
});
