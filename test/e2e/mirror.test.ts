import assert from 'node:assert/strict';
import type { MirrorDeps } from '../../src/cli/commands/mirror.ts';
import { runMirror } from '../../src/cli/commands/mirror.ts';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { BufferIo } from '../../src/cli/io.ts';
import { HttpTransport } from '../../src/client/http-transport.ts';
import { KeysClient } from '../../src/client/keys-client.ts';
import { KVCTL_BIN, background, requireBinary, run } from '../helpers/binary.ts';
import { TestPki } from '../helpers/certs.ts';
import { TestCluster, allStarted } from '../helpers/cluster.ts';
import type { EtcdProcess } from '../helpers/etcd.ts';
import { startEtcd } from '../helpers/etcd.ts';
import { expirationOf, keys, treeBelow, waitUntil } from '../helpers/trees.ts';

/** A mirror run in this process (runMirror, as the command runs it), stopped by `stop()`. */
interface RunningMirror {
  readonly io: BufferIo;
  readonly ended: Promise<void>;
  stop(): Promise<void>;
}

function startMirror(source: string, target: string, key: string, toPrefix = key): RunningMirror {
  const transports = [new HttpTransport({ endpoints: [source], timeoutMs: 2000 }), new HttpTransport({ endpoints: [target], timeoutMs: 2000 })];
  const controller = new AbortController();
  const io = new BufferIo();
  const deps: MirrorDeps = { source: new KeysClient(transports[0]!), client: new KeysClient(transports[1]!), io, signal: controller.signal, now: Date.now };
  const ended = runMirror({ key, toPrefix, concurrency: 8, lagIntervalMs: 200, format: 'simple' }, deps).finally(() => transports.forEach((t) => t.close()));
  return {
    io,
    ended,
    async stop() {
      controller.abort(new Error('stopped by the test'));
      await ended;
    },
  };
}

async function treesEqual(a: string, aKey: string, b: string, bKey: string): Promise<boolean> {
  const [left, right] = await Promise.all([treeBelow(a, aKey), treeBelow(b, bKey)]);
  return JSON.stringify(left) === JSON.stringify(right);
}

/** Changes of every kind on the source: sets, creates, updates, compare-and-swaps, deletes, recursive deletes, in-order keys. */
async function writeChanges(etcd: string, round: number): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await keys(etcd, 'PUT', `/m/k${i % 7}`, { value: `r${round}-${i}` });
    await keys(etcd, 'PUT', `/m/dir${i % 3}/f${i}`, { value: String(i) });
    if (i % 5 === 4) await keys(etcd, 'DELETE', `/m/k${(i + 1) % 7}`);
    if (i % 9 === 8) await keys(etcd, 'DELETE', `/m/dir${i % 3}`, { recursive: 'true' });
  }
  await keys(etcd, 'PUT', `/m/cas`, { value: `c${round}` });
  await keys(etcd, 'PUT', `/m/cas`, { value: `c${round}b`, prevValue: `c${round}` });
  await keys(etcd, 'DELETE', `/m/cas`, { prevValue: `c${round}b` });
  await keys(etcd, 'POST', '/m/queue', { value: `q${round}` });
  await keys(etcd, 'PUT', `/m/emptydir${round}`, { dir: 'true' });
  await keys(etcd, 'PUT', `/m/_hidden${round}`, { value: 'never mirrored' });
}

describe('kvctl mirror from etcd 3.4 into kvd', function () {
  let kvd: TestCluster;
  let etcd: EtcdProcess;
  let target: string;
  const mirrors: RunningMirror[] = [];

  before(async function () {
    requireBinary();
    await allStarted([TestCluster.start(1).then((started) => (kvd = started)), startEtcd().then((started) => (etcd = started))]);
    target = kvd.members[0]!.clientUrl;
  });
  afterEach(async () => {
    await Promise.all(mirrors.splice(0).map((mirror) => mirror.stop()));
  });
  after(async () => Promise.all([kvd?.destroy(), etcd?.stop()]));

  it('copies, then follows sets, deletes, recursive deletes and expiries across a source restart, until the trees are equal', async function () {
    this.timeout(60_000);
    await keys(etcd.endpoint, 'PUT', '/m/before', { value: 'copied' });
    await keys(etcd.endpoint, 'PUT', '/m/tree/deep/leaf', { value: 'copied too' });
    await keys(etcd.endpoint, 'PUT', '/m/permanent-dir', { dir: 'true' });
    await keys(target, 'PUT', '/m/stale', { value: 'not on the source: removed by the copy' });
    const mirror = startMirror(etcd.endpoint, target, '/m');
    mirrors.push(mirror);
    await waitUntil('the copy', () => mirror.io.stderr.some((line) => line.includes('following changes')));
    assert.equal((await keys(target, 'GET', '/m/stale')).errorCode, 100);

    await writeChanges(etcd.endpoint, 1);
    await keys(etcd.endpoint, 'PUT', '/m/short', { value: 'expires', ttl: '1' });
    await keys(etcd.endpoint, 'PUT', '/m/shortdir', { dir: 'true', ttl: '1' });
    await keys(etcd.endpoint, 'PUT', '/m/shortdir/child', { value: 'goes with its directory' });
    await keys(etcd.endpoint, 'PUT', '/m/later', { value: 'expires later', ttl: '300' });
    await etcd.restart(0);
    await writeChanges(etcd.endpoint, 2);
    await waitUntil('the source to expire its TTL keys', async () => (await keys(etcd.endpoint, 'GET', '/m/short')).errorCode === 100 && (await keys(etcd.endpoint, 'GET', '/m/shortdir')).errorCode === 100);
    await keys(etcd.endpoint, 'PUT', '/m/last', { value: 'written after the expiries' });

    await waitUntil('the target to equal the source', () => treesEqual(etcd.endpoint, '/m', target, '/m'));
    assert.equal((await keys(target, 'GET', '/m/_hidden1')).errorCode, 100);
    assert.equal(((await keys(target, 'GET', '/m/later')).node as { ttl?: number }).ttl !== undefined, true);
    await waitUntil('a lag line', () => mirror.io.stderr.some((line) => /^mirror: source index \d+, applied through \d+ \(0 behind\)/.test(line)));
    await mirror.stop();
    assert.match(mirror.io.stderr.at(-1)!, /^mirror: stopped at source index \d+: \d+ changes applied, 1 copy of the tree/);
  });

  it('survives losing the target, and copies again (removing what the source deleted) when the source\'s history moved past it', async function () {
    this.timeout(90_000);
    for (let i = 0; i < 5; i++) await keys(etcd.endpoint, 'PUT', `/h/k${i}`, { value: 'before' });
    const mirror = startMirror(etcd.endpoint, target, '/h', '/copy/h');
    mirrors.push(mirror);
    await waitUntil('the copy', () => mirror.io.stderr.some((line) => line.includes('following changes')));
    await waitUntil('the copy to land', () => treesEqual(etcd.endpoint, '/h', target, '/copy/h'));
    const member = kvd.members[0]!;
    await kvd.kill(member, 'SIGTERM');
    await keys(etcd.endpoint, 'DELETE', '/h/k0');
    // More than the 1,000 events of etcd's history, in batches of concurrent writes.
    for (let batch = 0; batch < 24; batch++) await Promise.all(Array.from({ length: 50 }, (_, i) => keys(etcd.endpoint, 'PUT', `/h/n${i}`, { value: String(batch) })));
    kvd.launch(member);
    await kvd.waitHealthy();
    await waitUntil('the target to equal the source', () => treesEqual(etcd.endpoint, '/h', target, '/copy/h'), 40_000);
    assert.equal((await keys(target, 'GET', '/copy/h/k0')).errorCode, 100);
    assert.ok(mirror.io.stderr.some((line) => /history has moved past index \d+: copying the tree again/.test(line)), mirror.io.stderr.join('\n'));
  });

  it('keeps a copied TTL key alive while a client refreshes it on the source (refreshes are not events)', async function () {
    this.timeout(30_000);
    await keys(etcd.endpoint, 'PUT', '/r/session', { value: 'alive', ttl: '3' });
    const mirror = startMirror(etcd.endpoint, target, '/r');
    mirrors.push(mirror);
    await waitUntil('the copy', () => mirror.io.stderr.some((line) => line.includes('following changes')));
    // A client keeping its session alive past the copy's first expiration: after each refresh on
    // the source, the copy must come to expire no earlier than the source (the keeper's event)
    // before it expires, else the key is gone and expirationOf fails at once.
    const firstExpiration = await expirationOf(target, '/r/session');
    while (Date.now() < firstExpiration + 1000) {
      await keys(etcd.endpoint, 'PUT', '/r/session', { ttl: '3', refresh: 'true', prevExist: 'true' });
      const source = await expirationOf(etcd.endpoint, '/r/session');
      await waitUntil('the copy to be extended as far as the source', async () => (await expirationOf(target, '/r/session')) >= source);
    }
    assert.equal(((await keys(target, 'GET', '/r/session')).node as { value?: string } | undefined)?.value, 'alive');
    await waitUntil('the key to expire on both sides once the refreshes stop', async () => (await keys(etcd.endpoint, 'GET', '/r/session')).errorCode === 100 && (await keys(target, 'GET', '/r/session')).errorCode === 100);
  });

  it('bin/kvctl mirror follows until SIGTERM, then exits 0 with a summary', async function () {
    this.timeout(30_000);
    const mirror = background(KVCTL_BIN, ['mirror', '/b', '--to-prefix', '/bb', '--from', etcd.endpoint, '--endpoints', target, '--lag-interval', '100ms']);
    try {
      await waitUntil('the copy', () => mirror.stderr.includes('following changes'));
      await keys(etcd.endpoint, 'PUT', '/b/x', { value: 'followed' });
      await waitUntil('the change in the target', async () => ((await keys(target, 'GET', '/bb/x')).node as { value?: string } | undefined)?.value === 'followed');
      await waitUntil('a lag line', () => /mirror: source index \d+, applied through \d+/.test(mirror.stderr));
      assert.equal(await mirror.stop('SIGTERM'), ExitCode.OK);
      assert.match(mirror.stderr, /mirror: stopped at source index \d+: 1 change applied, 1 copy of the tree/);
    } finally {
      await mirror.stop('SIGKILL');
    }
  });
});

describe('kvctl mirror from a kvd cluster over TLS', function () {
  this.timeout(60_000);
  let pki: TestPki;
  let source: TestCluster;
  let target: TestCluster;
  let tlsArgs: string[];

  before(async () => {
    requireBinary();
    pki = await TestPki.create();
    const ca = await pki.ca('ca');
    const member = await pki.issue(ca, 'member');
    const client = await pki.issue(ca, 'client');
    tlsArgs = ['--cacert', ca.cert, '--cert', client.cert, '--key', client.key];
    const tls = ['--cert-file', member.cert, '--key-file', member.key, '--client-cert-auth', '--trusted-ca-file', ca.cert];
    [source, target] = await Promise.all([
      TestCluster.start(1, tls, { clientScheme: 'https', clientTls: { ca: ca.cert, cert: client.cert, key: client.key } }),
      TestCluster.start(1),
    ]);
  });
  after(async () => {
    await Promise.all([source?.destroy(), target?.destroy()]);
    await pki?.destroy();
  });

  it('copies and follows with the source\'s CA and client certificate (--from-cacert, --from-cert, --from-key)', async () => {
    const put = (key: string, value: string) => run(KVCTL_BIN, ['--endpoints', source.members[0]!.clientUrl, ...tlsArgs, 'put', key, value]);
    assert.equal((await put('/t/before', 'copied')).code, ExitCode.OK);
    const to = target.members[0]!.clientUrl;
    const mirror = background(KVCTL_BIN, ['mirror', '/t', '--from', source.members[0]!.clientUrl, '--from-cacert', tlsArgs[1]!, '--from-cert', tlsArgs[3]!, '--from-key', tlsArgs[5]!, '--endpoints', to]);
    try {
      await waitUntil('the copy', () => mirror.stderr.includes('following changes'));
      assert.equal((await put('/t/after', 'followed')).code, ExitCode.OK);
      await waitUntil('the change in the target', async () => ((await keys(to, 'GET', '/t/after')).node as { value?: string } | undefined)?.value === 'followed');
      assert.equal(((await keys(to, 'GET', '/t/before')).node as { value?: string }).value, 'copied');
      assert.equal(await mirror.stop('SIGTERM'), ExitCode.OK);
    } finally {
      await mirror.stop('SIGKILL');
    }
  });
});
