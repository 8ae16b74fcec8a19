import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KVCTL_BIN, requireBinary, run } from '../helpers/binary.ts';
import { TestCluster, clusterPerSuite } from '../helpers/cluster.ts';

const ENV = { PATH: '/usr/bin:/bin' };

describe('kvctl edges: environment, etcdctl aliases, --ttl 0, servers that are not v2', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  const kvctl = (args: readonly string[], env: NodeJS.ProcessEnv = {}) => run(KVCTL_BIN, ['--endpoints', cluster.endpoints, ...args], { env: { ...ENV, ...env } });

  before(async () => {
    requireBinary();
    // kvd serve starts with a KVD_ variable it does not know (it refused to start before).
    process.env.KVD_BIN = '/usr/local/bin/kvd';
    try {
      cluster = await TestCluster.start(1);
    } finally {
      delete process.env.KVD_BIN;
    }
  });
  after(async () => cluster?.destroy());

  it('kvd serve ignores an unknown KVD_ variable with a warning', async () => {
    await cluster.waitForLog(cluster.members[0]!, /warning: ignoring the environment variable KVD_BIN/);
  });

  it('an unknown KVCTL_ variable is ignored with a warning; a known one still works', async () => {
    assert.equal((await kvctl(['put', '/env/a', 'one'])).code, 0);
    const result = await run(KVCTL_BIN, ['get', '/env/a'], { env: { ...ENV, KVCTL_FOO: '1', KVCTL_ENDPOINTS: cluster.endpoints } });
    assert.deepEqual(result, { code: 0, stdout: 'one\n', stderr: 'warning: ignoring the environment variable KVCTL_FOO: this command has no --foo\n' });
    const typo = await kvctl(['get', '/env/a'], { KVCTL_TTL: '5' });
    assert.equal(typo.code, 0);
    assert.match(typo.stderr, /ignoring the environment variable KVCTL_TTL: this command has no --ttl/);
  });

  it('ETCDCTL_ENDPOINTS is used when KVCTL_ENDPOINTS is not set, and KVCTL_ENDPOINTS wins over it', async () => {
    assert.equal((await kvctl(['put', '/env/b', 'two'])).code, 0);
    assert.deepEqual(await run(KVCTL_BIN, ['get', '/env/b'], { env: { ...ENV, ETCDCTL_ENDPOINTS: cluster.endpoints } }), { code: 0, stdout: 'two\n', stderr: '' });
    const both = await run(KVCTL_BIN, ['get', '/env/b'], { env: { ...ENV, ETCDCTL_ENDPOINTS: cluster.endpoints, KVCTL_ENDPOINTS: 'http://127.0.0.1:1' } });
    assert.equal(both.code, 4);
    assert.match(both.stderr, /127\.0\.0\.1:1/);
  });

  it('etcdctl\'s set, mk, update, rmdir and version', async () => {
    assert.deepEqual(await kvctl(['set', '/alias/a', '1']), { code: 0, stdout: '1\n', stderr: '' });
    assert.deepEqual(await kvctl(['mk', '/alias/b', '2']), { code: 0, stdout: '2\n', stderr: '' });
    const again = await kvctl(['mk', '/alias/b', '3']);
    assert.equal(again.code, 3, again.stderr);
    assert.match(again.stderr, /105: Key already exists/);
    assert.deepEqual(await kvctl(['update', '/alias/b', '4']), { code: 0, stdout: '4\n', stderr: '' });
    const missing = await kvctl(['update', '/alias/none', '5']);
    assert.equal(missing.code, 2, missing.stderr);
    assert.equal((await kvctl(['mkdir', '/alias/dir'])).code, 0);
    assert.deepEqual(await kvctl(['rmdir', '/alias/dir']), { code: 0, stdout: '', stderr: '' });
    assert.equal((await kvctl(['get', '/alias/dir'])).code, 2);
    const notEmpty = await kvctl(['rmdir', '/alias']);
    assert.notEqual(notEmpty.code, 0);
    const version = await run(KVCTL_BIN, ['version'], { env: ENV });
    assert.deepEqual(version, await run(KVCTL_BIN, ['--version'], { env: ENV }));
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  });

  it('put --ttl 0 and mkdir --ttl 0 are refused, and nothing is written', async () => {
    for (const args of [['put', '/ttl/a', 'v', '--ttl', '0'], ['mkdir', '/ttl/d', '--ttl', '0']]) {
      const result = await kvctl(args);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /^Error: --ttl 0: a TTL is at least 1 second; leave --ttl out for a key that never expires\n/);
    }
    assert.equal((await kvctl(['get', '/ttl/a'])).code, 2);
    assert.equal((await kvctl(['put', '/ttl/a', 'v', '--ttl', '1'])).code, 0);
  });

  it('-w table is refused, before anything is sent, by a command that has no table', async () => {
    for (const args of [['get', '/table/a'], ['put', '/table/a', 'v'], ['watch', '/table/a']]) {
      const result = await kvctl([...args, '-w', 'table']);
      assert.deepEqual(result, { code: 1, stdout: '', stderr: 'Error: -w table: this command prints simple or json\n(see --help)\n' }, args.join(' '));
    }
    assert.equal((await kvctl(['get', '/table/a'])).code, 2, 'put -w table wrote nothing');
    const members = await kvctl(['member', 'list', '-w', 'table']);
    assert.equal(members.code, 0, members.stderr);
    assert.match(members.stdout, /^ID\s+NAME\s+PEER URLS/);
  });

  describe('an endpoint that does not speak the v2 API', () => {
    let server: http.Server;
    let endpoint: string;
    before(async () => {
      // What an etcd 3.4 started without --enable-v2 answers on /v2/ (its /health and /version still work).
      server = http.createServer((request, response) => {
        if (request.url === '/health') response.end('{"health":"true"}');
        else if (request.url === '/version') response.end('{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}');
        else response.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise((resolve) => server.close(resolve)));

    it('a command names it as such', async () => {
      const result = await run(KVCTL_BIN, ['--endpoints', endpoint, 'get', '/a'], { env: ENV });
      assert.equal(result.code, 4);
      assert.equal(result.stderr, `Error: ${endpoint} does not speak etcd's v2 API: it answered 404 "404 page not found" (is it an etcd 3.x started without --enable-v2, or another HTTP server?)\n`);
    });

    it('endpoint status and endpoint health exit non-zero for it', async () => {
      for (const command of ['status', 'health']) {
        const result = await run(KVCTL_BIN, ['--endpoints', endpoint, 'endpoint', command], { env: ENV });
        assert.equal(result.code, 4, `endpoint ${command}: ${result.stdout}`);
        assert.match(result.stdout, /does not speak etcd's v2 API/);
      }
    });
  });
});

describe('kvctl against a cluster that has lost quorum', function () {
  this.timeout(60_000);
  const cluster = clusterPerSuite(3);

  it('a write says that there is no leader and how many members answer', async () => {
    await cluster().kill(cluster().member('m2'));
    await cluster().kill(cluster().member('m3'));
    // The member's own request timeout (5 s + 2 election timeouts) is shorter than kvctl's default.
    const result = await run(KVCTL_BIN, ['--endpoints', cluster().endpoints, 'put', '/q', '1'], { env: ENV, timeoutMs: 50_000 });
    assert.deepEqual(result, { code: 4, stdout: '', stderr: 'Error: no leader: 1 of 3 members answer; a write needs 2\n' });
  });
});
