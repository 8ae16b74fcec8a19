import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode } from '../../src/cli/exit-code.ts';
import { KVCTL_BIN, KVD_BIN, background, requireBinary, run } from '../helpers/binary.ts';
import type { CertFiles } from '../helpers/certs.ts';
import { TestPki } from '../helpers/certs.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { freePort } from '../helpers/ports.ts';
import { waitForWatchers } from '../helpers/watchers.ts';

describe('TLS and client-certificate authentication (kvd)', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let ca: CertFiles;
  let otherCa: CertFiles;
  let member: CertFiles;
  let alice: CertFiles;
  let mallory: CertFiles;
  let cluster: TestCluster;
  const tlsFlags = () => [
    '--cert-file', member.cert, '--key-file', member.key, '--client-cert-auth', '--trusted-ca-file', ca.cert,
    '--peer-cert-file', member.cert, '--peer-key-file', member.key, '--peer-client-cert-auth', '--peer-trusted-ca-file', ca.cert,
  ];
  const as = (who: CertFiles | undefined, ...args: string[]) => run(KVCTL_BIN, ['--endpoints', cluster.members[0]!.clientUrl, '--cacert', ca.cert, ...(who ? ['--cert', who.cert, '--key', who.key] : []), ...args]);

  before(async () => {
    requireBinary();
    pki = await TestPki.create();
    ca = await pki.ca('ca');
    otherCa = await pki.ca('other-ca');
    member = await pki.issue(ca, 'member');
    alice = await pki.issue(ca, 'alice');
    mallory = await pki.issue(otherCa, 'mallory');
    cluster = await TestCluster.start(3, tlsFlags(), { clientScheme: 'https', peerScheme: 'https', clientTls: { ca: ca.cert, cert: alice.cert, key: alice.key } });
  });
  after(async () => {
    await cluster?.destroy();
    await pki?.destroy();
  });

  it('a TLS peer cluster forms and replicates; kvctl with the CA and a client certificate does put, get and watch', async () => {
    const watch = background(KVCTL_BIN, ['--endpoints', cluster.members[2]!.clientUrl, '--cacert', ca.cert, '--cert', alice.cert, '--key', alice.key, 'watch', '/tls/a', '--count', '1']);
    await waitForWatchers(cluster.members[2]!.clientUrl, 1, 'the watch to be registered', { ca: ca.cert, cert: alice.cert, key: alice.key });
    assert.deepEqual(await as(alice, 'put', '/tls/a', 'secret'), { code: 0, stdout: 'secret\n', stderr: '' });
    const fromOther = await run(KVCTL_BIN, ['--endpoints', cluster.members[1]!.clientUrl, '--cacert', ca.cert, '--cert', alice.cert, '--key', alice.key, 'get', '/tls/a']);
    assert.equal(fromOther.stdout, 'secret\n', fromOther.stderr);
    assert.equal(await watch.closed, 0, watch.stderr);
    assert.equal(watch.stdout, 'set /tls/a=secret\n');
  });

  it('a client without a certificate is refused at the handshake, and the member logs it', async () => {
    const refused = await as(undefined, 'get', '/tls/a');
    assert.equal(refused.code, ExitCode.UNAVAILABLE);
    assert.match(refused.stderr, /require a client certificate \(give --cert and --key\)/);
    await cluster.waitForLog(cluster.members[0]!, /WARN +refused a TLS client connection .*reason="the client presented no certificate"/);
  });

  it('a client certificate from another CA is refused', async () => {
    const refused = await as(mallory, 'get', '/tls/a');
    assert.equal(refused.code, ExitCode.UNAVAILABLE);
    assert.match(refused.stderr, /may have refused our client certificate/);
    await cluster.waitForLog(cluster.members[0]!, /refused a TLS client connection .*not signed by the trusted CA/);
  });

  it('kvctl names the cause: an unknown CA, a hostname mismatch', async () => {
    const unknown = await run(KVCTL_BIN, ['--endpoints', cluster.members[0]!.clientUrl, '--cert', alice.cert, '--key', alice.key, 'get', '/tls/a']);
    assert.equal(unknown.code, ExitCode.UNAVAILABLE);
    assert.match(unknown.stderr, /signed by an unknown CA .*give the CA with --cacert/);
    const byName = cluster.members[0]!.clientUrl.replace('127.0.0.1', 'localhost');
    const mismatch = await run(KVCTL_BIN, ['--endpoints', byName, '--cacert', ca.cert, '--cert', alice.cert, '--key', alice.key, 'get', '/tls/a']);
    assert.equal(mismatch.code, ExitCode.UNAVAILABLE);
    assert.match(mismatch.stderr, /hostname mismatch: Host: localhost\./);
    const insecure = await run(KVCTL_BIN, ['--endpoints', cluster.members[0]!.clientUrl, '--insecure-skip-tls-verify', '--cert', alice.cert, '--key', alice.key, 'get', '/tls/a']);
    assert.equal(insecure.stdout, 'secret\n', insecure.stderr);
  });

  it('a member whose peer certificate is not signed by the cluster\'s CA cannot join', async () => {
    const intruder = await pki.issue(otherCa, 'intruder');
    const joining = await cluster.prepare('m4');
    const added = await as(alice, 'member', 'add', 'm4', joining.peerUrl);
    assert.equal(added.code, 0, added.stderr);
    const initialCluster = cluster.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    const refused = await run(KVD_BIN, [
      'serve', '--name', 'm4', '--data-dir', joining.dataDir, '--listen-client-urls', joining.clientUrl, '--listen-peer-urls', joining.peerUrl,
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'existing',
      '--cert-file', member.cert, '--key-file', member.key, '--peer-cert-file', intruder.cert, '--peer-key-file', intruder.key, '--peer-trusted-ca-file', ca.cert,
    ]);
    assert.equal(refused.code, ExitCode.USAGE);
    assert.match(refused.stderr, /cannot join the existing cluster: no member in --initial-cluster answered/);
    await cluster.waitForLog(cluster.members[0]!, /refused a TLS peer connection/);
    cluster.members.pop();
  });

  it('kvd serve refuses missing files, a key that does not match its certificate, and https without a certificate', async () => {
    const serve = async (...flags: string[]) => run(KVD_BIN, ['serve', '--data-dir', path.join(pki.dir, 'never'), '--listen-client-urls', `https://127.0.0.1:${await freePort()}`, '--listen-peer-urls', `http://127.0.0.1:${await freePort()}`, ...flags]);
    const missing = await serve('--cert-file', path.join(pki.dir, 'nope.pem'), '--key-file', member.key);
    assert.equal(missing.code, ExitCode.USAGE);
    assert.match(missing.stderr, /--cert-file .*nope\.pem: cannot read it \(no such file\)/);
    const mismatch = await serve('--cert-file', member.cert, '--key-file', alice.key);
    assert.match(mismatch.stderr, /--key-file .*alice-key\.pem: the key does not match the certificate in --cert-file/);
    const bare = await serve();
    assert.match(bare.stderr, /--listen-client-urls: https:\/\/127\.0\.0\.1:\d+ is https: give --cert-file and --key-file/);
    const auth = await serve('--cert-file', member.cert, '--key-file', member.key, '--client-cert-auth');
    assert.match(auth.stderr, /--client-cert-auth needs --trusted-ca-file/);
  });

  it('a rotated certificate is used without a restart', async () => {
    const served = await pki.issue(ca, 'rotating');
    const single = await TestCluster.start(1, ['--cert-file', served.cert, '--key-file', served.key], { clientScheme: 'https', clientTls: { ca: ca.cert, cert: alice.cert, key: alice.key } });
    try {
      const get = () => run(KVCTL_BIN, ['--endpoints', single.members[0]!.clientUrl, '--cacert', otherCa.cert, 'ls', '/']);
      assert.match((await get()).stderr, /unknown CA/);
      // The operator replaces the files in place with a certificate from the new CA.
      const next = await pki.issue(otherCa, 'next');
      await copyFile(next.key, served.key);
      await copyFile(next.cert, served.cert);
      await single.waitForLog(single.members[0]!, /certificates reloaded/);
      const after = await get();
      assert.equal(after.code, 0, after.stderr);
    } finally {
      await single.destroy();
    }
  });
});
