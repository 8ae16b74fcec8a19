import assert from 'node:assert/strict';
import type http from 'node:http';
import { PassThrough } from 'node:stream';
import { BodyTooLarge, readBody } from '../../src/server/read-body.ts';

/** A request as readBody sees it: its headers, and a body stream the test feeds (or never ends). */
function request(headers: http.IncomingHttpHeaders): PassThrough & { headers: http.IncomingHttpHeaders } {
  return Object.assign(new PassThrough(), { headers });
}

describe('readBody: a request body read whole', () => {
  it('gives an empty body at once for a request with neither Content-Length nor Transfer-Encoding, without waiting for its end', async () => {
    const req = request({ host: 'x' });
    const body = await readBody(req as unknown as http.IncomingMessage, 1024);
    assert.equal(body.length, 0);
    assert.equal(req.listenerCount('data') + req.listenerCount('end') + req.listenerCount('close'), 0);
  });

  it('reads a body with a Content-Length to its end', async () => {
    const req = request({ 'content-length': '5' });
    const reading = readBody(req as unknown as http.IncomingMessage, 1024);
    req.end('hello');
    assert.equal((await reading).toString(), 'hello');
  });

  it('refuses a chunked body over the limit with BodyTooLarge', async () => {
    const req = request({ 'transfer-encoding': 'chunked' });
    const reading = readBody(req as unknown as http.IncomingMessage, 4);
    req.end('hello');
    await assert.rejects(reading, BodyTooLarge);
  });
});
