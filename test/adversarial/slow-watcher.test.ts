import assert from 'node:assert/strict';
import http from 'node:http';
import { requireBinary } from '../helpers/binary.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { bodyOf, chunksOf, rawConnection } from '../helpers/raw-http.ts';
import { waitUntil } from '../helpers/trees.ts';

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

async function put(clientUrl: string, key: string, value: string): Promise<number> {
  const response = await fetch(`${clientUrl}/v2/keys${key}`, { method: 'PUT', body: new URLSearchParams({ value }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.ok(response.ok, await response.clone().text());
  return ((await response.json()) as Event).node.modifiedIndex;
}

/** The events of the whole chunks of a raw watch stream's answer so far. */
const eventsOf = (received: Buffer): Event[] => Buffer.concat(chunksOf(bodyOf(received)).chunks).toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Event);

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
    const watch = rawConnection(clientUrl, 'GET /v2/keys/slow?wait=true&stream=true HTTP/1.1\r\nHost: kvd\r\n\r\n', { pauseAfterHead: true });
    await watch.head;
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
    await watch.ended;
    assert.equal(chunksOf(bodyOf(watch.received())).terminated, false, 'a stream ended for its backlog is cut, not completed');
    const seen = eventsOf(watch.received());
    assert.ok(seen.length < written.length, `${seen.length} events of ${written.length} reached the stopped client`);
    assert.deepEqual(seen.map((e) => e.node.modifiedIndex), written.slice(0, seen.length), 'what arrived is a prefix');

    const from = seen.length === 0 ? written[0]! : seen.at(-1)!.node.modifiedIndex + 1;
    const rewatch = rawConnection(clientUrl, `GET /v2/keys/slow?wait=true&stream=true&waitIndex=${from} HTTP/1.1\r\nHost: kvd\r\n\r\n`);
    const missed = written.filter((index) => index >= from);
    await waitUntil('the re-watch caught up', () => eventsOf(rewatch.received()).length >= missed.length, 30_000);
    rewatch.socket.destroy();
    const caughtUp = eventsOf(rewatch.received());
    assert.deepEqual(caughtUp.map((e) => e.node.modifiedIndex), missed);
    assert.deepEqual(caughtUp.map((e) => e.node.value), missed.map((_, i) => `${value}${written.length - missed.length + i}`));
  });

  it('does not end a stream for its replay from the history, however big', async () => {
    const value = 'r'.repeat(64 * 1024);
    const written: number[] = [];
    for (let i = 0; i < 100; i++) written.push(await put(clientUrl, '/replay', `${value}${i}`));
    const ended = await metric(clientUrl, 'kvd_watch_streams_slow_ended_total');
    const watch = rawConnection(clientUrl, `GET /v2/keys/replay?wait=true&stream=true&waitIndex=${written[0]} HTTP/1.1\r\nHost: kvd\r\n\r\n`);
    watch.socket.once('data', () => watch.socket.pause());
    await waitUntil('the replay is written', async () => (await metric(clientUrl, 'kvd_watchers')) === 1);
    // ~6 MB of replay, most of it still unflushed: a live event now is not too far behind.
    written.push(await put(clientUrl, '/replay', `${value}live`));
    assert.equal(await metric(clientUrl, 'kvd_watch_streams_slow_ended_total'), ended);
    watch.socket.resume();
    await waitUntil('the client read the replay and the live event', () => eventsOf(watch.received()).length === written.length, 30_000);
    assert.equal(await metric(clientUrl, 'kvd_watchers'), 1, 'the stream is still open');
    watch.socket.destroy();
    assert.deepEqual(eventsOf(watch.received()).map((e) => e.node.modifiedIndex), written);
  });

  it('removes long-poll and stream watchers from the hub when their clients disconnect', async () => {
    const before = await metric(clientUrl, 'kvd_watchers');
    const watches = [
      ...['a', 'b', 'c'].map((k) => rawConnection(clientUrl, `GET /v2/keys/gone/${k}?wait=true HTTP/1.1\r\nHost: kvd\r\n\r\n`)),
      ...['d', 'e'].map((k) => rawConnection(clientUrl, `GET /v2/keys/gone/${k}?wait=true&stream=true HTTP/1.1\r\nHost: kvd\r\n\r\n`)),
    ];
    await waitUntil('every watch is registered', async () => (await metric(clientUrl, 'kvd_watchers')) === before + watches.length);
    for (const watch of watches) watch.socket.destroy();
    await waitUntil('the watchers left the hub', async () => (await metric(clientUrl, 'kvd_watchers')) === before);
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
        await waitUntil('the long-poll is registered', async () => (await metric(clientUrl, 'kvd_watchers')) === before + 1);
        await put(clientUrl, '/polled', `p${i}`);
        assert.equal((JSON.parse(await answer) as Event).node.value, `p${i}`);
      }
    } finally {
      agent.destroy();
    }
    assert.doesNotMatch(cluster.members[0]!.log, /MaxListenersExceededWarning/);
  });
});
