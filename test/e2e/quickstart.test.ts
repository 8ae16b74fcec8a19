import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KVCTL_BIN, KVD_BIN, ROOT, requireBinary, run } from '../helpers/binary.ts';

/** The README's quickstart uses the default ports: it can only run where they are free. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const healthy = (url: string) => () => fetch(`${url}/health`).then((r) => r.ok, () => false);

describe('the README quickstart, for real (default ports)', function () {
  let dir: string;
  before(async function () {
    requireBinary();
    const ports = [2379, 2380, 22379, 22380, 32379, 32380];
    const busy = [];
    for (const port of ports) if (!(await portFree(port))) busy.push(port);
    if (busy.length > 0) {
      console.log(`    (skipped: ports ${busy.join(', ')} are in use on this machine)`);
      this.skip();
    }
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-quickstart-'));
  });
  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('bin/kvd serve with no flags, then bin/kvctl put and get', async () => {
    const server = spawn(KVD_BIN, ['serve'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    server.stderr.on('data', (c: Buffer) => (log += c.toString()));
    try {
      await waitFor(healthy('http://127.0.0.1:2379'), 'a healthy member on 2379', () => log);
      assert.deepEqual(await run(KVCTL_BIN, ['put', 'a', 'b']), { code: 0, stdout: 'b\n', stderr: '' });
      assert.deepEqual(await run(KVCTL_BIN, ['get', 'a']), { code: 0, stdout: 'b\n', stderr: '' });
      assert.ok(existsSync(path.join(dir, 'default.kvd')), 'data in ./default.kvd');
    } finally {
      const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  it('scripts/local-cluster.sh runs three members that replicate', async () => {
    const script: ChildProcess = spawn(path.join(ROOT, 'scripts/local-cluster.sh'), [], {
      cwd: dir,
      env: { ...process.env, KVDEXE: KVD_BIN, KVD: 'a bare KVD variable must not break kvd' },
      stdio: 'ignore',
      detached: true,
    });
    try {
      for (const port of [2379, 22379, 32379]) await waitFor(healthy(`http://127.0.0.1:${port}`), `member on ${port}`, () => '');
      assert.equal((await run(KVCTL_BIN, ['--endpoints', 'http://127.0.0.1:22379', 'put', '/rec', 'ok'])).code, 0);
      assert.equal((await run(KVCTL_BIN, ['--endpoints', 'http://127.0.0.1:32379', 'get', '/rec'])).stdout, 'ok\n');
    } finally {
      const exited = new Promise((resolve) => script.once('exit', resolve));
      process.kill(-script.pid!, 'SIGTERM');
      await exited;
    }
  });
});
