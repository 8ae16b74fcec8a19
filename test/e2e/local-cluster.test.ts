import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KVCTL_BIN, KVD_BIN, ROOT, requireBinary, run } from '../helpers/binary.ts';
import { freePort } from '../helpers/ports.ts';

interface Script {
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** scripts/local-cluster.sh on the given ports, in its own process group (it starts three members). */
function localCluster(cwd: string, clientPorts: readonly number[], peerPorts: readonly number[]): Script {
  const child = spawn(path.join(ROOT, 'scripts/local-cluster.sh'), [], {
    cwd,
    env: { PATH: '/usr/bin:/bin', KVDEXE: KVD_BIN, LOCAL_CLUSTER_CLIENT_PORTS: clientPorts.join(' '), LOCAL_CLUSTER_PEER_PORTS: peerPorts.join(' ') },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const script: Script = {
    stdout: '',
    stderr: '',
    exited,
    async stop() {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      return exited;
    },
  };
  child.stdout.on('data', (chunk: Buffer) => (script.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (script.stderr += chunk.toString()));
  return script;
}

async function until(what: string, check: () => boolean, script: Script, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${script.stdout}\n${script.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('scripts/local-cluster.sh', function () {
  this.timeout(60_000);
  let dir: string;
  let script: Script | undefined;
  before(() => requireBinary());
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-local-cluster-'));
  });
  afterEach(async () => {
    await script?.stop();
    script = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('takes its ports from the environment and prints the KVCTL_ENDPOINTS line once every member answers', async () => {
    const clients = [await freePort(), await freePort(), await freePort()];
    const peers = [await freePort(), await freePort(), await freePort()];
    script = localCluster(dir, clients, peers);
    await until('the KVCTL_ENDPOINTS line', () => script!.stdout.includes('\n'), script);
    const endpoints = clients.map((port) => `http://127.0.0.1:${port}`).join(',');
    assert.equal(script.stdout, `KVCTL_ENDPOINTS=${endpoints}\n`);
    const env = { PATH: '/usr/bin:/bin', KVCTL_ENDPOINTS: endpoints };
    assert.equal((await run(KVCTL_BIN, ['put', '/local', 'ok'], { env })).code, 0);
    assert.equal((await run(KVCTL_BIN, ['--endpoints', `http://127.0.0.1:${clients[2]}`, 'get', '/local'], { env })).stdout, 'ok\n');
  });

  it('fails with the member\'s log when a member cannot start, and stops the others', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const busy = (taken.address() as net.AddressInfo).port;
      script = localCluster(dir, [await freePort(), busy, await freePort()], [await freePort(), await freePort(), await freePort()]);
      assert.equal(await script.exited, 1);
      assert.match(script.stderr, /member two did not start \(log: local-cluster\/two\.log\):\n.*address already in use/s);
      assert.equal(script.stdout, '', 'no KVCTL_ENDPOINTS line');
    } finally {
      taken.close();
    }
  });
});
