import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Background } from '../helpers/binary.ts';
import { KVD_BIN, background, requireBinary } from '../helpers/binary.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { freePort } from '../helpers/ports.ts';

/** GET over https without verifying the server (its certificate is self-signed): status, body and the certificate's subject. */
function insecureGet(url: string): Promise<{ status: number; body: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { rejectUnauthorized: false, timeout: 5000 }, (response) => {
      const subject = (response.socket as TLSSocket).getPeerCertificate().subject?.O ?? '';
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, subject: String(subject) }));
    });
    request.on('error', reject);
  });
}

describe('kvd serve --auto-tls / --peer-auto-tls: self-signed certificates made at start, as etcd\'s', function () {
  this.timeout(60_000);
  let cluster: TestCluster | undefined;
  let member: Background | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    await member?.stop('SIGKILL');
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    cluster = undefined;
    member = undefined;
    dir = undefined;
  });

  it('three members over https peer URLs with --peer-auto-tls replicate', async () => {
    requireBinary();
    cluster = await TestCluster.start(3, ['--peer-auto-tls'], { peerScheme: 'https' });
    const [m1, , m3] = cluster.members;
    assert.equal((await fetch(`${m1!.clientUrl}/v2/keys/auto`, { method: 'PUT', body: new URLSearchParams({ value: 'tls' }) })).status, 201);
    const read = (await (await fetch(`${m3!.clientUrl}/v2/keys/auto?quorum=true`)).json()) as { node: { value: string } };
    assert.equal(read.node.value, 'tls');
    assert.ok(existsSync(`${m1!.dataDir}.auto-tls/peer/cert.pem`));
  });

  it('an https client URL with --auto-tls answers with a self-signed certificate', async () => {
    requireBinary();
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-auto-tls-'));
    const client = `https://127.0.0.1:${await freePort()}`;
    member = background(KVD_BIN, ['serve', '--name', 's', '--data-dir', path.join(dir, 's'), '--listen-client-urls', client, '--auto-tls', '--listen-peer-urls', `http://127.0.0.1:${await freePort()}`]);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const answer = await insecureGet(`${client}/health`).catch(() => undefined);
      if (answer?.status === 200) {
        assert.deepEqual(answer, { status: 200, body: '{"health":"true"}', subject: 'etcd' });
        break;
      }
      assert.ok(Date.now() < deadline && member.child.exitCode === null, `kvd did not answer over https:\n${member.stderr.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
});
