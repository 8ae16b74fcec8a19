import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FanoutFloor } from '../../bench/fanout-floor.ts';
import net from 'node:net';
import { LatencyLog, RawConnection, keyFor, rawStream, runLoad, runWatchLoad } from '../../src/client/bench.ts';
import { freePort } from '../helpers/ports.ts';

describe('kvctl bench: the pieces', () => {
  it('LatencyLog gives nearest-rank percentiles over many samples', () => {
    const log = new LatencyLog();
    for (let i = 1; i <= 200_000; i++) log.add(i / 1000);
    assert.deepEqual(log.percentiles(), { p50: 100, p90: 180, p99: 198, p999: 199.8, max: 200 });
    assert.deepEqual(new LatencyLog().percentiles(), { p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });

  it('keyFor fills the key space in order, or spreads over all of it', () => {
    assert.deepEqual([0, 1, 2, 3].map((i) => keyFor(i, 3, true)), [0, 1, 2, 0]);
    const hit = new Set(Array.from({ length: 5000 }, (_, i) => keyFor(i, 100, false)));
    assert.equal(hit.size, 100);
  });

  it('a run ends when a server never answers: its requests are given up after the grace', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const result = await runLoad('put', { endpoints: [endpoint], clients: 2, durationMs: 50, graceMs: 50 }, () => ({ method: 'GET', path: '/v2/keys/k', ok: () => true }));
      assert.equal(result.ops, 0);
      assert.ok((result.errors.ECONNRESET ?? 0) >= 2, JSON.stringify(result.errors));
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });

  it('a client does not retry an endpoint that is down in a tight loop', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const result = await runLoad('put', { endpoints: [endpoint], clients: 2, durationMs: 300 }, () => ({ method: 'GET', path: '/v2/keys/k', ok: () => true }));
    assert.deepEqual(Object.keys(result.errors), ['ECONNREFUSED']);
    // Waits of 5, 10, 20, 40, 80, 160 ms between tries: at most 7 tries a client in 300 ms.
    assert.ok(result.errors.ECONNREFUSED! <= 14, JSON.stringify(result.errors));
  });

  it('RawConnection reads Content-Length and chunked replies on one keep-alive connection', async () => {
    let connections = 0;
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url === '/chunked') {
          res.writeHead(200);
          res.write('{"a":');
          setTimeout(() => res.end('1}'), 5);
        } else {
          res.writeHead(201, { 'content-length': Buffer.byteLength(`${req.method} ${body} ✓`) }).end(`${req.method} ${body} ✓`);
        }
      });
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const connection = new RawConnection(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      assert.deepEqual(await connection.request('PUT', '/k', 'value=x'), { status: 201, body: 'PUT value=x ✓' });
      assert.deepEqual(await connection.request('GET', '/chunked'), { status: 200, body: '{"a":1}' });
      assert.deepEqual(await connection.request('GET', '/k'), { status: 201, body: 'GET  ✓' });
      assert.equal(connections, 1);
    } finally {
      connection.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it('rawStream splits a chunked stream into lines, whatever the chunk boundaries; a non-200 is refused', async () => {
    const server = http.createServer((req, res) => {
      if (req.url !== '/watch') {
        res.writeHead(404).end('{"errorCode":100}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"n":1}\n{"n"');
      setTimeout(() => res.write(':2,"s":"é"}\n'), 5);
      setTimeout(() => res.end('{"n":3}\n'), 10);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const lines: string[] = [];
      const ended = new Promise<Error | undefined>((resolve) => {
        void rawStream(endpoint, '/watch', (line) => lines.push(line), resolve);
      });
      assert.equal(await ended, undefined);
      assert.deepEqual(lines, ['{"n":1}', '{"n":2,"s":"é"}', '{"n":3}']);
      await assert.rejects(rawStream(endpoint, '/other', () => undefined, () => undefined), /HTTP 404/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('long-poll watchers re-arm with waitIndex and see every write once (against the fan-out floor, which answers long polls)', async function () {
    this.timeout(60_000);
    const floor = await FanoutFloor.start(3);
    try {
      const result = await runWatchLoad({ endpoints: floor.endpoints.split(','), watchers: 30, mode: 'poll', events: 10, rate: 50, prefix: '/poll' });
      assert.deepEqual({ events: result.events, deliveries: result.deliveries, missed: result.missed, duplicated: result.duplicated, errors: result.errors }, { events: 10, deliveries: 300, missed: 0, duplicated: 0, errors: {} });
    } finally {
      await floor.stop();
    }
  });
});
