import assert from 'node:assert/strict';
import { KVCTL_BIN, requireBinary, run } from '../helpers/binary.ts';
import type { CertFiles } from '../helpers/certs.ts';
import { TestPki } from '../helpers/certs.ts';
import { TestCluster } from '../helpers/cluster.ts';

describe('auth with --client-cert-auth: a certificate\'s CN names the user', function () {
  this.timeout(120_000);
  let pki: TestPki | undefined;
  let cluster: TestCluster | undefined;

  after(async () => {
    await cluster?.destroy();
    await pki?.destroy();
  });

  it('without credentials a request is the user its certificate names (or guest); with them, the credentials decide', async () => {
    requireBinary();
    pki = await TestPki.create();
    const ca = await pki.ca('ca');
    const member = await pki.issue(ca, 'member');
    const alice = await pki.issue(ca, 'alice');
    const carol = await pki.issue(ca, 'carol');
    cluster = await TestCluster.start(1, ['--cert-file', member.cert, '--key-file', member.key, '--client-cert-auth', '--trusted-ca-file', ca.cert], { clientScheme: 'https', clientTls: { ca: ca.cert, cert: alice.cert, key: alice.key } });
    const url = cluster.members[0]!.clientUrl;
    const as = (who: CertFiles, ...args: string[]) => run(KVCTL_BIN, ['--endpoints', url, '--cacert', ca.cert, '--cert', who.cert, '--key', who.key, ...args]);
    const ok = async (who: CertFiles, ...args: string[]) => {
      const result = await as(who, ...args);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    };
    await ok(alice, 'user', 'add', 'root:rootpw');
    await ok(alice, 'role', 'add', 'app');
    await ok(alice, 'role', 'grant', 'app', '--readwrite', '/app/*');
    await ok(alice, 'user', 'add', 'alice:unused', '--roles', 'app');
    await ok(alice, 'auth', 'enable');
    await ok(alice, '--user', 'root:rootpw', 'role', 'revoke', 'guest', '--readwrite', '/*');
    await ok(alice, 'put', '/app/x', '1');
    const refused = await as(alice, 'put', '/other', '1');
    assert.match(refused.stderr, /110: .*needs write permission on \/other/);
    assert.match((await as(carol, 'get', '/app/x')).stderr, /110/, 'no user named carol: guest, who may read nothing');
    await ok(alice, '--user', 'root:rootpw', 'put', '/other', '1');
    assert.match((await as(alice, '--user', 'root:wrong', 'get', '/app/x')).stderr, /110/, 'wrong credentials are refused, the certificate notwithstanding');
  });
});
