import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { TestPki } from '../helpers/certs.ts';
import { TestCluster, clusterPerSuite } from '../helpers/cluster.ts';

/**
 * Sends `request` on a raw socket (TLS when given its CA), half-closes it (FIN) and resolves with
 * every byte answered.
 */
function sendAndHalfClose(clientUrl: string, request: string, ca?: Buffer): Promise<string> {
  const { hostname, port } = new URL(clientUrl);
  return new Promise((resolve, reject) => {
    const options = { host: hostname, port: Number(port), allowHalfOpen: true };
    const socket = ca === undefined ? net.connect(options) : tls.connect({ ...options, ca });
    const received: Buffer[] = [];
    socket.on('data', (data: Buffer) => received.push(data));
    socket.on('error', reject);
    socket.on('end', () => {
      socket.destroy();
      resolve(Buffer.concat(received).toString('utf8'));
    });
    socket.end(request);
  });
}

describe('adversarial: clients that half-close their socket after the request', function () {
  const cluster = clusterPerSuite(1);

  it('get the answer to a write, as etcd answers', async () => {
    const body = 'value=half';
    const answer = await sendAndHalfClose(cluster().members[0]!.clientUrl, `PUT /v2/keys/half HTTP/1.1\r\nHost: kvd\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assert.match(answer, /^HTTP\/1\.1 201 Created\r\n/);
    const event = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { action: string; node: { key: string; value: string } };
    assert.deepEqual([event.action, event.node.key, event.node.value], ['set', '/half', 'half']);
  });

  it('get the answer to a read', async () => {
    const answer = await sendAndHalfClose(cluster().members[0]!.clientUrl, 'GET /v2/keys/half?quorum=true HTTP/1.1\r\nHost: kvd\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal((JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { node: { value: string } }).node.value, 'half');
  });

  it('get their answer over TLS too', async () => {
    const pki = await TestPki.create();
    let secure: TestCluster | undefined;
    try {
      const ca = await pki.ca('half-ca');
      const served = await pki.issue(ca, 'half-member');
      const client = await pki.issue(ca, 'half-client');
      secure = await TestCluster.start(1, ['--cert-file', served.cert, '--key-file', served.key], { clientScheme: 'https', clientTls: { ca: ca.cert, cert: client.cert, key: client.key } });
      const body = 'value=tls';
      const answer = await sendAndHalfClose(secure.members[0]!.clientUrl, `PUT /v2/keys/half HTTP/1.1\r\nHost: kvd\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`, readFileSync(ca.cert));
      assert.match(answer, /^HTTP\/1\.1 201 Created\r\n/);
    } finally {
      await secure?.destroy();
      await pki.destroy();
    }
  });
});
