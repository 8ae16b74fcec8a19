import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { requireBinary } from '../helpers/binary.ts';
import { TestCluster } from '../helpers/cluster.ts';

interface Event {
  readonly action: string;
  readonly node: { readonly key: string; readonly value?: string; readonly modifiedIndex: number };
}

/** One sample of the member's /metrics. */
async function metric(clientUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${clientUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line !== undefined, `no ${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

async function until(what: string, done: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function put(clientUrl: string, key: string, value: string): Promise<number> {
  const response = await fetch(`${clientUrl}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.ok(response.ok, await response.clone().text());
  return ((await response.json()) as Event).node.modifiedIndex;
}

/** A raw HTTP/1.1 connection that sends one request and keeps every byte it is sent. */
function rawRequest(clientUrl: string, request: string) {
  const { hostname, port } = new URL(clientUrl);
  const socket = net.connect({ host: hostname, port: Number(port) });
  let received = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (data: Buffer) => (received = Buffer.concat([received, data])));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  socket.write(request);
  return { socket, received: () => received, closed: () => closed };
}

/** The whole chunks of a chunked body (after the headers), as text, and whether it was terminated. */
function chunksOf(bytes: Buffer): { chunks: string[]; terminated: boolean } {
  const chunks: string[] = [];
  let at = bytes.indexOf('\r\n\r\n') + 4;
  for (;;) {
    const sizeEnd = bytes.indexOf('\r\n', at);
    if (sizeEnd < 0) return { chunks, terminated: false };
    const size = Number.parseInt(bytes.toString('latin1', at, sizeEnd), 16);
    if (size === 0) return { chunks, terminated: true };
    if (sizeEnd + 2 + size + 2 > bytes.length) return { chunks, terminated: false };
    chunks.push(bytes.toString('utf8', sizeEnd + 2, sizeEnd + 2 + size));
    at = sizeEnd + 2 + size + 2;
  }
}

const eventsOf = (chunks: readonly string[]): Event[] => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Event);

describe('adversarial: slow and vanished watchers', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let clientUrl: string;
  before(async () => {
    requireBinary();
    cluster = await TestCluster.start(1);
    clientUrl = cluster.members[0]!.clientUrl;
  });
  after(async () => cluster?.destroy());

  it('ends a stream whose client stops reading once it falls behind, and a re-watch from its last index gets what it missed', async () => {
    const watch = rawRequest(clientUrl, 'GET /v2/keys/slow?wait=true&stream=true HTTP/1.1\r\nHost: kvd\r\n\r\n');
    await until('the stream is open', () => watch.received().includes('\r\n\r\n'));
    watch.socket.pause();
    // Values of 64 KiB: what the kernel buffers between the two sockets fills quickly, and the
    // member's backlog for the stream grows past its limit well within the 400 writes allowed.
    const value = 'v'.repeat(64 * 1024);
    const written: number[] = [];
    while (written.length < 400 && (await metric(clientUrl, 'kvd_watchers')) === 1) {
      for (let j = 0; j < 10; j++) written.push(await put(clientUrl, '/slow', `${value}${written.length}`));
    }
    assert.equal(await metric(clientUrl, 'kvd_watchers'), 0, `the stream was still watching after ${written.length} writes of 64 KiB`);
    assert.equal(await metric(clientUrl, 'kvd_watch_streams_slow_ended_total'), 1);
    await cluster.waitForLog(cluster.members[0]!, /slow watch stream ended key=\/slow/);

    watch.socket.resume();
    await until('the member closed the stream\'s connection', () => watch.closed());
    const { chunks, terminated } = chunksOf(watch.received());
    assert.equal(terminated, false, 'a stream ended for its backlog is cut, not completed');
    const seen = eventsOf(chunks);
    assert.ok(seen.length < written.length, `${seen.length} events of ${written.length} reached the stopped client`);
    assert.deepEqual(seen.map((e) => e.node.modifiedIndex), written.slice(0, seen.length), 'what arrived is a prefix');

    const from = seen.length === 0 ? written[0]! : seen.at(-1)!.node.modifiedIndex + 1;
    const rewatch = rawRequest(clientUrl, `GET /v2/keys/slow?wait=true&stream=true&waitIndex=${from} HTTP/1.1\r\nHost: kvd\r\n\r\n`);
    const missed = written.filter((index) => index >= from);
    await until('the re-watch caught up', () => eventsOf(chunksOf(rewatch.received()).chunks).length >= missed.length, 30_000);
    rewatch.socket.destroy();
    const caughtUp = eventsOf(chunksOf(rewatch.received()).chunks);
    assert.deepEqual(caughtUp.map((e) => e.node.modifiedIndex), missed);
    assert.deepEqual(caughtUp.map((e) => e.node.value), missed.map((_, i) => `${value}${written.length - missed.length + i}`));
  });

  it('does not end a stream for its replay from the history, however big', async () => {
    const value = 'r'.repeat(64 * 1024);
    const written: number[] = [];
    for (let i = 0; i < 100; i++) written.push(await put(clientUrl, '/replay', `${value}${i}`));
    const ended = await metric(clientUrl, 'kvd_watch_streams_slow_ended_total');
    const watch = rawRequest(clientUrl, `GET /v2/keys/replay?wait=true&stream=true&waitIndex=${written[0]} HTTP/1.1\r\nHost: kvd\r\n\r\n`);
    watch.socket.once('data', () => watch.socket.pause());
    await until('the replay is written', async () => (await metric(clientUrl, 'kvd_watchers')) === 1);
    // ~6 MB of replay, most of it still unflushed: a live event now is not too far behind.
    written.push(await put(clientUrl, '/replay', `${value}live`));
    assert.equal(await metric(clientUrl, 'kvd_watch_streams_slow_ended_total'), ended);
    watch.socket.resume();
    await until('the client read the replay and the live event', () => eventsOf(chunksOf(watch.received()).chunks).length === written.length, 30_000);
    assert.equal(await metric(clientUrl, 'kvd_watchers'), 1, 'the stream is still open');
    watch.socket.destroy();
    assert.deepEqual(eventsOf(chunksOf(watch.received()).chunks).map((e) => e.node.modifiedIndex), written);
  });

  it('removes long-poll and stream watchers from the hub when their clients disconnect', async () => {
    const before = await metric(clientUrl, 'kvd_watchers');
    const watches = [
      ...['a', 'b', 'c'].map((k) => rawRequest(clientUrl, `GET /v2/keys/gone/${k}?wait=true HTTP/1.1\r\nHost: kvd\r\n\r\n`)),
      ...['d', 'e'].map((k) => rawRequest(clientUrl, `GET /v2/keys/gone/${k}?wait=true&stream=true HTTP/1.1\r\nHost: kvd\r\n\r\n`)),
    ];
    await until('every watch is registered', async () => (await metric(clientUrl, 'kvd_watchers')) === before + watches.length);
    for (const watch of watches) watch.socket.destroy();
    await until('the watchers left the hub', async () => (await metric(clientUrl, 'kvd_watchers')) === before);
  });

  it('keeps nothing on a kept-alive connection after each long-poll it served', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const { hostname, port } = new URL(clientUrl);
    const poll = () =>
      new Promise<string>((resolve, reject) => {
        const request = http.get({ host: hostname, port: Number(port), path: '/v2/keys/polled?wait=true', agent }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve(body));
        });
        request.on('error', reject);
      });
    const before = await metric(clientUrl, 'kvd_watchers');
    try {
      for (let i = 0; i < 15; i++) {
        const answer = poll();
        await until('the long-poll is registered', async () => (await metric(clientUrl, 'kvd_watchers')) === before + 1);
        await put(clientUrl, '/polled', `p${i}`);
        assert.equal((JSON.parse(await answer) as Event).node.value, `p${i}`);
      }
    } finally {
      agent.destroy();
    }
    assert.doesNotMatch(cluster.members[0]!.log, /MaxListenersExceededWarning/);
  });
});
