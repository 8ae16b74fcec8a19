import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { KVD_BIN, requireBinary } from '../helpers/binary.ts';
import { freePort } from '../helpers/ports.ts';

/** The member's descriptor limit in this test, and how many idle clients try to use them up. */
const OPEN_FILE_LIMIT = 256;
const IDLE_CLIENTS = 400;
/** Values large enough that LevelDB opens new files (a new log and table once 4 MiB are written). */
const VALUE = 'x'.repeat(1024 * 1024);
const WRITES = 6;

/** A request over `agent` (a kept-alive connection made before the flood): its status and body. */
function request(agent: http.Agent | undefined, url: string, method: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }, timeout: 20_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens `count` connections that never send a byte; resolves once each is open or was closed. */
async function idleConnections(port: number, count: number): Promise<{ sockets: net.Socket[]; closedByServer: () => number }> {
  const sockets: net.Socket[] = [];
  let closed = 0;
  await Promise.all(
    Array.from({ length: count }, () => new Promise<void>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      sockets.push(socket);
      socket.on('error', () => {});
      socket.once('close', () => {
        closed++;
        resolve();
      });
      socket.once('connect', () => resolve());
    })),
  );
  return { sockets, closedByServer: () => closed };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Limited {
  readonly client: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code once the member has exited. */
  readonly exited: Promise<number | null>;
  log: string;
}

/** Starts a single member with `ulimit -n OPEN_FILE_LIMIT` (with its own data dir under `dir`). */
async function startLimited(dir: string, extraFlags: readonly string[] = []): Promise<Limited> {
  const port = await freePort();
  const client = `http://127.0.0.1:${port}`;
  const serve = [KVD_BIN, 'serve', '--name', 'm1', '--data-dir', path.join(dir, 'm1'), '--listen-client-urls', client, '--listen-peer-urls', `http://127.0.0.1:${await freePort()}`, '--snapshot-count', '3', '--snapshot-catchup-entries', '1', ...extraFlags];
  const child = spawn('bash', ['-c', `ulimit -n ${OPEN_FILE_LIMIT} && exec "$@"`, 'bash', ...serve], { stdio: ['ignore', 'ignore', 'pipe'] });
  const member: Limited = { client, port, child, exited: new Promise((resolve) => child.once('close', (code) => resolve(code))), log: '' };
  child.stderr!.on('data', (chunk: Buffer) => (member.log += chunk.toString()));
  await until('the member answers /health', async () => (await request(undefined, `${client}/health`, 'GET').catch(() => ({ status: 0 }))).status === 200);
  return member;
}

describe('adversarial: no number of idle clients starves the storage of file descriptors', function () {
  this.timeout(120_000);
  let dir: string;
  const started: Limited[] = [];
  let idle: net.Socket[] = [];
  let agent: http.Agent | undefined;

  beforeEach(async () => {
    requireBinary();
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-descriptors-'));
  });
  afterEach(async () => {
    for (const socket of idle) socket.destroy();
    idle = [];
    agent?.destroy();
    for (const { child, exited } of started.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it(`with ulimit -n ${OPEN_FILE_LIMIT} and ${IDLE_CLIENTS} idle client connections held, then closed, writes and reads go on`, async () => {
    const member = await startLimited(dir);
    started.push(member);
    const { client } = member;
    // One client's kept-alive connection, opened before the flood, carries the writes made during it.
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await request(agent, `${client}/health`, 'GET')).status, 200);
    const cap = Number(/serving clients .*maxConnections=(\d+)/.exec(member.log)?.[1]);
    assert.ok(cap + 64 <= OPEN_FILE_LIMIT, `the member takes ${cap} client connections under a limit of ${OPEN_FILE_LIMIT} descriptors: too few are left for its storage and peers\n${member.log}`);
    const flood = await idleConnections(member.port, IDLE_CLIENTS);
    idle = flood.sockets;
    // The agent's connection counts against the cap too.
    await until(`the member has closed the ${IDLE_CLIENTS - cap + 1} connections over its cap`, () => flood.closedByServer() >= IDLE_CLIENTS - cap + 1);
    const held = IDLE_CLIENTS - flood.closedByServer();

    for (let i = 0; i < WRITES; i++) {
      const put = await request(agent, `${client}/v2/keys/held/k${i}`, 'PUT', `value=${VALUE}`);
      assert.equal(put.status, 201, `write ${i} while ${held} idle connections are held: ${put.body.slice(0, 300)}\n${member.log.slice(-2000)}`);
    }
    for (let i = 0; i < WRITES; i++) {
      const get = await request(agent, `${client}/v2/keys/held/k${i}?quorum=true`, 'GET');
      assert.equal(get.status, 200, get.body.slice(0, 300));
      assert.equal((JSON.parse(get.body) as { node: { value: string } }).node.value, VALUE);
    }

    for (const socket of idle) socket.destroy();
    idle = [];
    agent.destroy();
    // New clients are served again once the idle ones have gone.
    await until('a new client is served', async () => (await request(undefined, `${client}/health`, 'GET').catch(() => ({ status: 0 }))).status === 200);
    const after = await request(undefined, `${client}/v2/keys/after`, 'PUT', 'value=1');
    assert.equal(after.status, 201, after.body);
    assert.equal((await request(undefined, `${client}/v2/keys/held/k0?quorum=true`, 'GET')).status, 200);
    assert.equal(member.child.exitCode, null, `the member exited:\n${member.log.slice(-2000)}`);
  });

  it('with the cap set above the limit, a write that cannot open a file (EMFILE) stops the member: exit 11, one line naming it, nothing acknowledged lost', async () => {
    const member = await startLimited(dir, ['--max-client-connections', '100000']);
    started.push(member);
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await request(agent, `${member.client}/health`, 'GET')).status, 200);
    idle = (await idleConnections(member.port, IDLE_CLIENTS)).sockets;

    const acknowledged: string[] = [];
    for (let i = 0; i < 20; i++) {
      const put = await request(agent, `${member.client}/v2/keys/held/k${i}`, 'PUT', `value=${VALUE}`).catch(() => ({ status: 0, body: '' }));
      if (put.status !== 201) break;
      acknowledged.push(`/held/k${i}`);
    }
    assert.ok(acknowledged.length < 20, `every write succeeded with the descriptors used up:\n${member.log.slice(-2000)}`);
    assert.equal(await member.exited, ExitCode.HALTED, member.log.slice(-2000));
    const named = member.log.split('\n').filter((line) => /EMFILE|too many open files/i.test(line));
    assert.equal(named.length, 1, member.log.slice(-3000));
    assert.match(named[0]!, /ERROR fail-stop: .* fix=.*ulimit -n/);

    for (const socket of idle) socket.destroy();
    idle = [];
    agent.destroy();
    const restarted = await startLimited(dir);
    started.push(restarted);
    for (const key of acknowledged) {
      const get = await request(undefined, `${restarted.client}/v2/keys${key}?quorum=true`, 'GET');
      assert.equal(get.status, 200, `acknowledged ${key} is missing after the restart`);
      assert.equal((JSON.parse(get.body) as { node: { value: string } }).node.value, VALUE);
    }
  });
});
