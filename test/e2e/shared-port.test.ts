import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { Background } from '../helpers/binary.ts';
import { KVD_BIN, background, requireBinary } from '../helpers/binary.ts';
import { TestPki } from '../helpers/certs.ts';
import { freePort } from '../helpers/ports.ts';

/** GET over https, trusting `ca`; the status and body, or the error's code. */
function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string } | string> {
  return new Promise((resolve) => {
    https.get(url, { ca, timeout: 5000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('kvd serve: an http:// and an https:// client URL on the same port, as etcd serves them', function () {
  this.timeout(30_000);
  let pki: TestPki | undefined;
  let dir: string | undefined;
  let member: Background | undefined;
  after(async () => {
    await member?.stop('SIGKILL');
    await pki?.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('answers both schemes on one listener', async () => {
    requireBinary();
    pki = await TestPki.create();
    const ca = await pki.ca('ca');
    const served = await pki.issue(ca, 'served');
    dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-test-shared-port-'));
    const port = await freePort();
    member = background(KVD_BIN, [
      'serve', '--name', 's', '--data-dir', path.join(dir, 's'),
      '--listen-client-urls', `http://127.0.0.1:${port},https://127.0.0.1:${port}`,
      '--listen-peer-urls', `http://127.0.0.1:${await freePort()}`,
      '--cert-file', served.cert, '--key-file', served.key,
    ]);
    const deadline = Date.now() + 20_000;
    let written: Response | undefined;
    while (written?.status !== 201) {
      assert.ok(Date.now() < deadline && member.child.exitCode === null, `kvd did not take a write over http:\n${member.stderr.slice(-2000)}`);
      written = await fetch(`http://127.0.0.1:${port}/v2/keys/a`, { method: 'PUT', body: new URLSearchParams({ value: 'both' }) }).catch(() => undefined);
      if (written?.status !== 201) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const read = await httpsGet(`https://127.0.0.1:${port}/v2/keys/a`, await readFile(ca.cert));
    assert.equal(typeof read === 'string' ? read : read.status, 200);
    assert.equal(typeof read === 'string' ? read : JSON.parse(read.body).node.value, 'both');
  });
});
