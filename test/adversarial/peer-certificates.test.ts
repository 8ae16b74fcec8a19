import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { formatId } from '../../src/server/member-id.ts';
import { encodeKeysPayload } from '../../src/server/payload-codec.ts';
import { encodeMessages } from '../../src/server/peer-codec.ts';
import { message } from '../../src/raft/types.ts';
import type { Background } from '../helpers/binary.ts';
import { KVD_BIN, background, requireBinary } from '../helpers/binary.ts';
import type { CertFiles } from '../helpers/certs.ts';
import { TestPki } from '../helpers/certs.ts';
import type { ClusterMember } from '../helpers/cluster.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { freePort } from '../helpers/ports.ts';

/** What the leader's peer port (`peerUrl`) answered a forged POST /raft: an HTTP status, or the error that ended the connection. */
type Outcome = { readonly peerUrl: string } & ({ readonly status: number } | { readonly error: string });

async function clientJson(url: string): Promise<{ status: number; clusterId: string; body: unknown }> {
  const response = await fetch(url);
  return { status: response.status, clusterId: response.headers.get('x-etcd-cluster-id') ?? '', body: await response.json() };
}

/**
 * The attack of issue 15: a certificate from the cluster's CA that is not a member's, used to POST
 * /raft to the leader a proposal (a Raft `prop` message) that sets `key`, as a follower forwards one.
 */
async function forgeWrite(cluster: TestCluster, ca: CertFiles, cert: CertFiles, key: string): Promise<Outcome> {
  const first = cluster.members[0]!;
  const leader = await clientJson(`${first.clientUrl}/v2/members/leader`);
  const { id, peerURLs } = leader.body as { id: string; peerURLs: string[] };
  const leaderId = parseInt(id, 16);
  const others = ((await clientJson(`${first.clientUrl}/v2/members`)).body as { members: { id: string }[] }).members.map((m) => parseInt(m.id, 16));
  const from = others.find((other) => other !== leaderId) ?? leaderId;
  const command = { method: 'PUT', key, value: 'forged', dir: false, prevValue: '', prevIndex: 0, recursive: false, sorted: false, refresh: false, expireTime: 0, now: Date.now() } as const;
  const frame = encodeMessages([message({ type: 'prop', from, to: leaderId, entries: [{ term: 0, index: 0, type: 'normal', data: encodeKeysPayload(`forged-${Date.now()}`, command) }] })]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(frame.length);
  return new Promise<Outcome>((resolve) => {
    const request = https.request(new URL('/raft', peerURLs[0]), {
      method: 'POST',
      ca: readFileSync(ca.cert),
      cert: readFileSync(cert.cert),
      key: readFileSync(cert.key),
      agent: false,
      headers: { 'content-type': 'application/octet-stream', 'x-etcd-cluster-id': leader.clusterId, 'x-server-from': formatId(from) },
    });
    request.on('response', (response) => {
      response.resume();
      resolve({ peerUrl: peerURLs[0]!, status: response.statusCode ?? 0 });
    });
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ peerUrl: peerURLs[0]!, error: error.code ?? error.message }));
    request.end(Buffer.concat([length, frame]));
  });
}

/** A quorum read after a write through the client API: whatever was proposed before is applied by then. */
async function readAfterBarrier(member: ClusterMember, key: string): Promise<number> {
  const barrier = await fetch(`${member.clientUrl}/v2/keys/barrier`, { method: 'PUT', body: new URLSearchParams({ value: '1' }) });
  assert.ok(barrier.ok, `the barrier write answered ${barrier.status}`);
  const read = await fetch(`${member.clientUrl}/v2/keys${key}?quorum=true`);
  await read.body?.cancel();
  return read.status;
}

const peerFlags = (cert: CertFiles, ca: CertFiles, ...allowed: string[]) => [
  '--peer-cert-file', cert.cert, '--peer-key-file', cert.key, '--peer-trusted-ca-file', ca.cert, '--peer-client-cert-auth', ...allowed,
];

describe('the peer port lets in members only (issue 15: --peer-cert-allowed-cn, --peer-cert-allowed-hostname)', function () {
  this.timeout(90_000);
  let pki: TestPki;
  let ca: CertFiles;
  let member: CertFiles;
  let app: CertFiles;
  const clusters: TestCluster[] = [];
  const processes: Background[] = [];
  const servers: http.Server[] = [];

  before(async () => {
    requireBinary();
    pki = await TestPki.create();
    ca = await pki.ca('shared-ca');
    member = await pki.issue(ca, 'kvd-member', ['DNS:member.kvd.test', 'IP:127.0.0.1']);
    // An application's client certificate from the same CA: valid for the same IP, another CN.
    app = await pki.issue(ca, 'app', ['IP:127.0.0.1']);
  });
  after(async () => {
    for (const cluster of clusters) await cluster.destroy();
    for (const process of processes) await process.stop('SIGKILL');
    for (const server of servers) server.close();
    await pki?.destroy();
  });

  it('members with the allowed CN form a cluster and serve writes; a certificate with another CN is refused at the peer port and writes nothing', async () => {
    const cluster = await TestCluster.start(2, peerFlags(member, ca, '--peer-cert-allowed-cn', 'kvd-member'), { peerScheme: 'https' });
    clusters.push(cluster);
    const put = await fetch(`${cluster.members[0]!.clientUrl}/v2/keys/written?value=by-a-client`, { method: 'PUT' });
    assert.equal(put.status, 201);
    const read = await clientJson(`${cluster.members[1]!.clientUrl}/v2/keys/written?quorum=true`);
    assert.equal((read.body as { node: { value: string } }).node.value, 'by-a-client');

    const outcome = await forgeWrite(cluster, ca, app, '/forged');
    assert.ok('error' in outcome, `the peer port answered HTTP ${JSON.stringify(outcome)} to a non-member`);
    for (const m of cluster.members) assert.equal(await readAfterBarrier(m, '/forged'), 404);
    const attacked = cluster.members.find((m) => m.peerUrl === outcome.peerUrl)!;
    await cluster.waitForLog(attacked, /refused a TLS peer connection .*its CN \\?"app\\?" is not --peer-cert-allowed-cn \\?"kvd-member\\?"/);
  });

  it('--peer-cert-allowed-hostname admits a certificate valid for that name by its SANs, and refuses one that is not', async () => {
    const cluster = await TestCluster.start(1, peerFlags(member, ca, '--peer-cert-allowed-hostname', 'member.kvd.test'), { peerScheme: 'https' });
    clusters.push(cluster);
    const refused = await forgeWrite(cluster, ca, app, '/by-app');
    assert.ok('error' in refused, `the peer port answered HTTP ${JSON.stringify(refused)} to a non-member`);
    assert.equal(await readAfterBarrier(cluster.members[0]!, '/by-app'), 404);
    await cluster.waitForLog(cluster.members[0]!, /refused a TLS peer connection .*not valid for --peer-cert-allowed-hostname/);
    // The same forged message with the member certificate gets through: the refusal above is the certificate's.
    assert.deepEqual(await forgeWrite(cluster, ca, member, '/by-member'), { peerUrl: cluster.members[0]!.peerUrl, status: 204 });
    assert.equal(await readAfterBarrier(cluster.members[0]!, '/by-member'), 200);
  });

  it('warns once at start when clients must show certificates but the peer port is plain HTTP', async () => {
    const clientAuth = ['--cert-file', member.cert, '--key-file', member.key, '--trusted-ca-file', ca.cert, '--client-cert-auth'];
    const cluster = await TestCluster.start(1, clientAuth, { clientScheme: 'https', clientTls: { ca: ca.cert, cert: app.cert, key: app.key } });
    clusters.push(cluster);
    const [only] = cluster.members;
    await cluster.waitForLog(only!, /WARN +clients must show a certificate \(--client-cert-auth\) but the peer URLs http:\/\/127\.0\.0\.1:\d+ are plain HTTP/);
    assert.equal(only!.log.match(/are plain HTTP/g)?.length, 1);
  });

  it('a member does not talk to a peer URL whose certificate has another CN (as etcd, the check applies to peers it dials)', async () => {
    let requests = 0;
    const impostor = https.createServer({ cert: readFileSync(app.cert), key: readFileSync(app.key) }, (_request, res) => {
      requests++;
      res.writeHead(204).end();
    });
    servers.push(impostor);
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const impostorUrl = `https://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
    const peerUrl = `https://127.0.0.1:${await freePort()}`;
    const kvd = background(KVD_BIN, [
      'serve', '--name', 'm1', '--data-dir', `${pki.dir}/dialer`, '--listen-client-urls', `http://127.0.0.1:${await freePort()}`,
      '--listen-peer-urls', peerUrl, '--initial-cluster', `m1=${peerUrl},m2=${impostorUrl}`, '--heartbeat-interval', '50', '--election-timeout', '500',
      ...peerFlags(member, ca, '--peer-cert-allowed-cn', 'kvd-member'),
    ]);
    processes.push(kvd);
    const deadline = Date.now() + 20_000;
    while (!/peer unreachable .*refused the certificate of 127\.0\.0\.1: its CN \\?"app\\?"/.test(kvd.stderr)) {
      if (Date.now() > deadline || kvd.child.exitCode !== null) assert.fail(`kvd never refused the impostor's certificate:\n${kvd.stderr.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(requests, 0);
  });
});
