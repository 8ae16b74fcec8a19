import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EtcdError, ProtocolError, UnavailableError } from '../../src/client/errors.ts';
import { HttpTransport, describeTlsFailure } from '../../src/client/http-transport.ts';
import { KeysClient } from '../../src/client/keys-client.ts';
import { freePort } from '../helpers/ports.ts';

interface Seen {
  method: string;
  url: string;
  body: string;
  contentType: string | undefined;
}

/** A local HTTP server whose handler the test chooses; records what it received. */
async function server(handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void) {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body, contentType: req.headers['content-type'] });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return { endpoint, seen, close: () => new Promise<void>((resolve) => { srv.closeAllConnections(); srv.close(() => resolve()); }) };
}

const reply = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(`${JSON.stringify(body)}\n`);
  };

describe('HttpTransport and KeysClient', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('moves to the next endpoint when one refuses connections, and prefers the one that answered', async () => {
    const good = await server(reply(200, { action: 'get', node: { key: '/a', value: '1' } }, { 'x-etcd-index': '12' }));
    cleanups.push(good.close);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const lines: string[] = [];
    const transport = new HttpTransport({ endpoints: [dead, good.endpoint], timeoutMs: 2000, debug: (l) => lines.push(l) });
    cleanups.push(() => transport.close());
    const client = new KeysClient(transport);
    const first = await client.get('/a', { quorum: true });
    assert.deepEqual(first, { event: { action: 'get', node: { key: '/a', value: '1' } }, etcdIndex: 12 });
    await client.get('/a');
    assert.equal(lines.filter((l) => l.includes('ECONNREFUSED')).length, 1, lines.join('\n'));
    assert.deepEqual(good.seen.map((s) => s.url), ['/v2/keys/a?quorum=true', '/v2/keys/a']);
  });

  it('sends writes as a form body, deletes with their conditions in the query', async () => {
    const srv = await server(reply(200, { action: 'set', node: { key: '/a b', value: 'x&y' } }));
    cleanups.push(srv.close);
    const transport = new HttpTransport({ endpoints: [srv.endpoint], timeoutMs: 2000 });
    cleanups.push(() => transport.close());
    const client = new KeysClient(transport);
    await client.set('/a b', 'x&y', { ttl: 5, prevExist: true });
    await client.delete('/a b', { prevValue: 'x', recursive: true });
    await client.mkdir('/d');
    assert.deepEqual(srv.seen, [
      { method: 'PUT', url: '/v2/keys/a%20b', body: 'value=x%26y&ttl=5&prevExist=true', contentType: 'application/x-www-form-urlencoded' },
      { method: 'DELETE', url: '/v2/keys/a%20b?recursive=true&prevValue=x', body: '', contentType: undefined },
      { method: 'PUT', url: '/v2/keys/d', body: 'dir=true&prevExist=false', contentType: 'application/x-www-form-urlencoded' },
    ]);
  });

  it('turns etcd\'s error body into an EtcdError with code, cause and index', async () => {
    const srv = await server(reply(404, { errorCode: 100, message: 'Key not found', cause: '/a', index: 3 }));
    cleanups.push(srv.close);
    const transport = new HttpTransport({ endpoints: [srv.endpoint], timeoutMs: 2000 });
    cleanups.push(() => transport.close());
    await assert.rejects(new KeysClient(transport).get('/a/b'), (error: unknown) => {
      assert.ok(error instanceof EtcdError);
      assert.equal(error.describe(), '100: Key not found (/a) [3]');
      assert.equal(error.status, 404);
      return true;
    });
  });

  it('a reply that is not the v2 API is a ProtocolError', async () => {
    const srv = await server((_req, res) => res.writeHead(502).end('<html>bad gateway</html>'));
    cleanups.push(srv.close);
    const transport = new HttpTransport({ endpoints: [srv.endpoint], timeoutMs: 2000 });
    cleanups.push(() => transport.close());
    await assert.rejects(new KeysClient(transport).get('/a'), ProtocolError);
  });

  it('a conditional write that timed out after it was sent is not retried elsewhere', async () => {
    const hung = await server(() => undefined);
    cleanups.push(hung.close);
    const other = await server(reply(200, { action: 'compareAndSwap', node: { key: '/a' } }));
    cleanups.push(other.close);
    const transport = new HttpTransport({ endpoints: [hung.endpoint, other.endpoint], timeoutMs: 200 });
    cleanups.push(() => transport.close());
    const client = new KeysClient(transport);
    await assert.rejects(client.set('/a', 'v', { prevValue: 'u' }), (error: unknown) => {
      assert.ok(error instanceof UnavailableError);
      assert.match(error.message, /may or may not have been applied/);
      return true;
    });
    assert.equal(other.seen.length, 0);
    // A read is safe to send again: it moves on.
    await client.get('/a');
    assert.equal(other.seen.length, 1);
  });
});

describe('TLS failures in words', () => {
  const failure = (code: string, extra: Record<string, string> = {}) => describeTlsFailure(Object.assign(new Error('x'), { code, ...extra }));
  it('names an unknown CA, an expired or not yet valid certificate, a hostname mismatch, a refused client certificate', () => {
    assert.match(failure('SELF_SIGNED_CERT_IN_CHAIN')!, /signed by an unknown CA .*--cacert/);
    assert.match(failure('UNABLE_TO_VERIFY_LEAF_SIGNATURE')!, /unknown CA/);
    assert.match(failure('CERT_HAS_EXPIRED')!, /certificate has expired/);
    assert.match(failure('CERT_NOT_YET_VALID')!, /not valid yet/);
    assert.match(failure('ERR_TLS_CERT_ALTNAME_INVALID', { reason: 'Host: db. is not in the cert\'s altnames' })!, /^hostname mismatch: Host: db\./);
    assert.match(failure('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')!, /requires a client certificate/);
    assert.match(failure('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')!, /refused our client certificate/);
    assert.equal(failure('ECONNREFUSED'), undefined);
  });
});
