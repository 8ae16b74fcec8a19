import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { KVD_BIN, requireBinary } from '../helpers/binary.ts';
import { freePort } from '../helpers/ports.ts';
import { rawRequest } from '../helpers/raw-http.ts';

/** A stand-in member: lists the client URLs it is told to, and answers every other path with it. */
class FakeMember {
  readonly paths: string[] = [];
  readonly released: string[] = [];
  clientURLs: unknown[] = [];
  private readonly server = http.createServer((req, res) => {
    if (req.url === '/v2/members') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ members: [{ clientURLs: this.clientURLs }] }));
    this.paths.push(req.url ?? '');
    // A request it holds (as a member holds a write until it commits) until the proxy lets go of it.
    if (req.url?.includes('hold=true')) return void req.socket.once('close', () => this.released.push(req.url ?? ''));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url }));
  });

  url = '';

  async start(): Promise<void> {
    const port = await freePort();
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${port}`;
    this.clientURLs = [this.url];
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A host the proxy must never reach: it counts the connections made to it. */
class Bystander {
  connections = 0;
  private readonly server = net.createServer((socket) => {
    this.connections++;
    socket.destroy();
  });

  port = 0;

  async start(): Promise<void> {
    this.port = await freePort();
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Proxy {
  readonly url: string;
  log: string;
  readonly child: ChildProcess;
}

async function startProxy(seed: string): Promise<Proxy> {
  const url = `http://127.0.0.1:${await freePort()}`;
  const child = spawn(KVD_BIN, ['serve', '--name', 'proxy', '--proxy', 'on', '--listen-client-urls', url, '--endpoints', seed], { stdio: ['ignore', 'ignore', 'pipe'] });
  const proxy: Proxy = { url, log: '', child };
  child.stderr?.on('data', (chunk: Buffer) => (proxy.log += chunk.toString()));
  const deadline = Date.now() + 20_000;
  while (!/proxy started/.test(proxy.log)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stopProxy(proxy);
      throw new Error(`the proxy did not start:\n${proxy.log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return proxy;
}

async function stopProxy(proxy: Proxy | undefined): Promise<void> {
  if (proxy === undefined || proxy.child.exitCode !== null || proxy.child.signalCode !== null) return;
  const closed = new Promise((resolve) => proxy.child.once('close', resolve));
  proxy.child.kill('SIGKILL');
  await closed;
}

describe('adversarial: the proxy forwards only client-API paths, and only to the members', function () {
  this.timeout(60_000);
  const member = new FakeMember();
  const bystander = new Bystander();
  let proxy: Proxy | undefined;

  before(async () => {
    requireBinary();
    await Promise.all([member.start(), bystander.start()]);
  });
  afterEach(async () => {
    await stopProxy(proxy);
    proxy = undefined;
    member.clientURLs = [member.url];
    member.paths.length = 0;
    member.released.length = 0;
  });
  after(async () => Promise.all([member.stop(), bystander.stop()]));

  it('answers 400 to targets that name another host, and never connects to it', async () => {
    proxy = await startProxy(member.url);
    const other = `127.0.0.1:${bystander.port}`;
    const targets = [
      `http://${other}/v2/keys/a`,
      `http://${other}/version`,
      `HTTP://${other}/health`,
      `https://${other}/v2/keys/a`,
      `//${other}/v2/keys/a`,
      `///${other}/v2/keys/a`,
      `/\\${other}/v2/keys/a`,
      `\\\\${other}/v2/keys/a`,
      `/v2/keys/http://${other}/a`,
      `/v2//${other}/keys/a`,
      `/v2/keys/../../..//${other}/a`,
      `/v2/./keys/a`,
      other,
      '*',
      '/',
      '/debug/pprof/',
      '/members',
      '/raft/probing',
      `/%2F%2F${other}/v2/keys/a`,
    ];
    for (const target of targets) {
      const answer = await rawRequest(proxy.url, 'GET', target);
      assert.equal(answer.status, 400, `GET ${target}: ${answer.bytes.toString('latin1').slice(0, 200)}`);
    }
    const options = await rawRequest(proxy.url, 'OPTIONS', '*');
    assert.equal(options.status, 400);
    assert.equal(bystander.connections, 0, 'the proxy connected to a host that is not a member');
    assert.deepEqual(member.paths, [], 'a refused target reached the member');
    assert.equal(proxy.child.exitCode, null, `the proxy exited:\n${proxy.log}`);
  });

  it('forwards the client API paths as they came, query included, to the member', async () => {
    proxy = await startProxy(member.url);
    const targets = ['/v2/keys/a?value=1&x=%2F%2Fhost', '/v2/keys/dir/', '/v2/keys', '/v2/members/leader', '/v2/stats/self', '/version', '/health', '/metrics', '/v2/keys/a%2F..%2Fb'];
    for (const target of targets) {
      const answer = await rawRequest(proxy.url, 'GET', target);
      assert.equal(answer.status, 200, `GET ${target}: ${answer.bytes.toString('latin1').slice(0, 200)}`);
      assert.deepEqual(JSON.parse(answer.body.toString()), { path: target });
    }
    assert.deepEqual(member.paths, targets);
  });

  it('takes a client that goes away for no failure of the member: nothing logged, the member kept', async () => {
    proxy = await startProxy(member.url);
    const { hostname, port } = new URL(proxy.url);
    for (let i = 0; i < 3; i++) {
      const target = `/v2/keys/held${i}?hold=true&value=secret`;
      const socket = net.connect(Number(port), hostname, () => socket.write(`PUT ${target} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Length: 0\r\n\r\n`));
      socket.on('error', () => undefined);
      while (!member.paths.includes(target)) await new Promise((resolve) => setTimeout(resolve, 10));
      socket.destroy();
      while (!member.released.includes(target)) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The proxy writes its log lines synchronously: any about the three is in before this answer.
    assert.equal((await rawRequest(proxy.url, 'GET', '/version')).status, 200);
    await new Promise((resolve) => setImmediate(resolve));
    assert.doesNotMatch(proxy.log, /WARN|ERROR|secret/);
  });

  it('uses only the http(s) client URLs the members list, never others', async () => {
    const other = `127.0.0.1:${bystander.port}`;
    member.clientURLs = ['ftp://127.0.0.1:21', `file:///${other}`, `http://user:secret@${other}`, `unix:///tmp/x`, 42, 'not a url', member.url];
    proxy = await startProxy(member.url);
    for (let i = 0; i < 5; i++) {
      const answer = await rawRequest(proxy.url, 'GET', `/v2/keys/k${i}`);
      assert.equal(answer.status, 200, `${answer.bytes.toString('latin1').slice(0, 200)}\n${proxy.log}`);
    }
    assert.equal(bystander.connections, 0, 'the proxy connected to a host that is not a member');
    assert.match(proxy.log, /WARN {2}proxy: ignored client URLs that are not http\(s\) URLs of a host/);
    assert.doesNotMatch(proxy.log, /secret/, 'a credential from a client URL was logged');
    assert.equal(proxy.child.exitCode, null, `the proxy exited:\n${proxy.log}`);
  });
});
