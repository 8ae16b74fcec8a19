import assert from 'node:assert/strict';
import net from 'node:net';
import { requireBinary } from '../helpers/binary.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { rawExchange } from '../helpers/raw-http.ts';

const SECRET = 'hunter2-s3cr3t';

/**
 * Sends a request head with `Expect: 100-continue`, waits for the member's `100 Continue` (so its
 * handler is reading the body), sends `bodyStart`, and then closes the connection mid-body.
 */
function abortMidBody(url: string, head: string, bodyStart: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(`${head}Host: ${hostname}\r\nExpect: 100-continue\r\n\r\n`));
    let received = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no 100 Continue: ${received}`)));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!received.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) return;
      socket.write(bodyStart, () => socket.destroy());
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

describe('adversarial: what a client sends never reaches the log', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  before(async () => {
    requireBinary();
    cluster = await TestCluster.start(1, ['--log-level', 'debug']);
  });
  after(async () => cluster?.destroy());

  it('logs requests cut off mid-body or malformed by method and path only, at debug level, without a stack', async () => {
    const member = cluster.members[0]!;
    const form = 'Content-Type: application/x-www-form-urlencoded\r\n';
    const cut: Array<[string, string]> = [
      [`PUT /v2/keys/abort-0?value=${SECRET} HTTP/1.1\r\n${form}Content-Length: 100\r\n`, `value=${SECRET}`],
      [`POST /v2/keys/abort-1?value=${SECRET}&ttl=5 HTTP/1.1\r\n${form}Content-Length: 100\r\n`, `value=${SECRET}`],
      [`PUT /v2/keys/abort-2?prevValue=${SECRET} HTTP/1.1\r\n${form}Transfer-Encoding: chunked\r\n`, `8\r\nvalue=${SECRET}\r\n`],
      [`DELETE /v2/keys/abort-3?prevValue=${SECRET} HTTP/1.1\r\nContent-Length: 100\r\n`, SECRET],
    ];
    for (const [head, body] of cut) await abortMidBody(member.clientUrl, head, body);
    // A chunked body that is not chunked: the request breaks off in the parser, mid-body.
    await abortMidBody(member.clientUrl, `PUT /v2/keys/abort-4?value=${SECRET} HTTP/1.1\r\n${form}Transfer-Encoding: chunked\r\n`, `zz\r\nvalue=${SECRET}\r\n`);
    const malformed = await rawExchange(member.clientUrl, `PUT /v2/keys/%zz?value=${SECRET} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${form}Content-Length: 14\r\n\r\n`, `value=${SECRET}`);
    assert.equal(malformed.status, 400);
    // The member logs each cut-off request; their order in the log is not known.
    for (let i = 0; i <= 4; i++) await cluster.waitForLog(member, new RegExp(`/v2/keys/abort-${i}\\b`));

    const lines = member.log.split('\n');
    assert.deepEqual(lines.filter((line) => line.includes(SECRET)), [], 'a secret reached the log');
    assert.deepEqual(lines.filter((line) => / (ERROR|WARN) /.test(line)), [], 'a client that went away is not a member problem');
    assert.doesNotMatch(member.log, /\bat [\w.<>]+ \(|node:_http/, 'a stack trace in the log');
    for (const line of lines.filter((l) => /\/v2\/keys\/abort-/.test(l))) assert.match(line, / DEBUG /, line);
    const health = await fetch(`${member.clientUrl}/health`);
    assert.equal(health.status, 200);
  });
});
