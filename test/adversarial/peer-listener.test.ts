import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { message } from '../../src/raft/types.ts';
import { FrameReader, FrameTooLarge } from '../../src/server/frame-reader.ts';
import { Logger } from '../../src/server/logger.ts';
import { formatId } from '../../src/server/member-id.ts';
import { encodeKeysPayload } from '../../src/server/payload-codec.ts';
import { encodeMessages } from '../../src/server/peer-codec.ts';
import type { TransportHost } from '../../src/server/transport-host.ts';
import { INCOMING_SNAPSHOT_FILE } from '../../src/storage/data-dir-check.ts';
import { MAX_PEER_CONNECTIONS, limitPeerListener } from '../../src/server/peer-limits.ts';
import { MAX_SNAPSHOT_BYTES, maxFrameBytesFor } from '../../src/server/peer-protocol.ts';
import { PeerTransport } from '../../src/server/peer-transport.ts';
import { RawPeerStream, framed, postSnapshot } from '../helpers/raw-peer.ts';
import { waitUntil } from '../helpers/trees.ts';

/** The peer listener's costs are bounded: frame sizes, snapshot receptions, connections, time. */

const quiet = new Logger('error', 'text', () => undefined);
const CLUSTER = formatId(42);

/** Member 2 of a cluster of 1 and 2, behind a peer listener; what it is handed is recorded. */
async function listener(dataDir: string, options: { checkSnapshot?: (data: Uint8Array) => Promise<void>; maxConnections?: number; headersTimeoutMs?: number; maxFrameBytes?: number; log?: Logger } = {}) {
  const received: Message[] = [];
  const host: TransportHost = {
    id: 2,
    clusterId: 42,
    dataDir,
    term: 0,
    lastIndex: 0,
    admits: (id: NodeId) => id === 1 || id === 2,
    checkSnapshot: options.checkSnapshot ?? (() => Promise.resolve()),
    peerUrlsOf: () => undefined,
    receive: (messages) => received.push(...messages),
    reportUnreachable: () => undefined,
    reportSnapshot: () => undefined,
    memberList: () => [],
    isRemoved: () => false,
    removedByPeer: () => undefined,
    snapshotImage: () => Promise.reject(new Error('none')),
  };
  const transport = new PeerTransport(host, options.log ?? quiet, undefined, options.maxFrameBytes);
  const server = http.createServer((req, res) => transport.handle(req, res));
  limitPeerListener(server, options.maxConnections, options.headersTimeoutMs);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = (): void => {
    transport.close();
    server.closeAllConnections();
    server.close();
  };
  return { received, url, server, close };
}

const snapshotOf = (term: number) => message({ type: 'snap', from: 1, to: 2, term, snapshot: { meta: { index: 10, term, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array(0) } });

describe('adversarial: the peer listener\'s bounds', function () {
  this.timeout(60_000);
  let dataDir: string;
  let close: (() => void) | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'kvd-peer-listener-'));
  });

  afterEach(() => {
    close?.();
    close = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs requests of another cluster at most once in a while, naming ids only (never the raw headers)', async () => {
    const lines: string[] = [];
    const peer = await listener(dataDir, { log: new Logger('info', 'text', (line) => lines.push(line)) });
    try {
      const flood = `${'x'.repeat(8000)}\r`;
      for (let i = 0; i < 30; i++) {
        const response = await fetch(`${peer.url}/raft`, { method: 'POST', headers: { 'x-etcd-cluster-id': formatId(7), 'x-server-from': flood }, body: new Uint8Array(0) }).catch(() => undefined);
        assert.equal(response?.status, 412);
      }
      const refusals = lines.filter((line) => line.includes('refused a peer of another cluster'));
      assert.equal(refusals.length, 1, lines.join('\n'));
      assert.ok(!refusals[0]!.includes('xxxx'), 'the header text is not logged');
      assert.match(refusals[0]!, /from="?not an id"? cluster="?7"? refused="?1"?/);
    } finally {
      peer.close();
    }
  });

  it('reassembles frames from 1-byte chunks in linear time (joining per chunk was quadratic)', () => {
    const reader = new FrameReader(1024 * 1024);
    const big = Buffer.alloc(256 * 1024, 7);
    const bytes = Buffer.concat([framed(big), framed(Buffer.alloc(0)), framed(Buffer.from('end'))]);
    const frames: Buffer[] = [];
    for (let at = 0; at < bytes.length; at++) frames.push(...reader.push(bytes.subarray(at, at + 1)));
    assert.deepEqual(frames.map((f) => f.length), [big.length, 0, 3]);
    assert.ok(frames[0]!.equals(big));
    assert.equal(frames[2]!.toString(), 'end');
  });

  it('refuses a frame over the limit from its length, before its bytes come', async () => {
    const reader = new FrameReader(100);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(101);
    assert.deepEqual(reader.push(length.subarray(0, 3)), []);
    assert.throws(() => reader.push(length.subarray(3)), FrameTooLarge);

    const peer = await listener(dataDir);
    close = peer.close;
    const stream = await RawPeerStream.open(peer.url, CLUSTER, 1);
    length.writeUInt32BE(maxFrameBytesFor(1.5 * 1024 * 1024) + 1);
    stream.write(length);
    // Nothing more is sent: the member answers and closes on the length alone.
    const outcome = await stream.outcome;
    assert.equal(outcome.status, 400);
    assert.match(outcome.answer, /over the limit/);
  });

  it('takes a big frame that is within the limit, however it is split', async () => {
    const peer = await listener(dataDir);
    close = peer.close;
    const value = 'v'.repeat(1024 * 1024);
    const entries = Array.from({ length: 12 }, (_, i) => ({ term: 1, index: i + 1, type: 'normal' as const, data: new Uint8Array(encodeKeysPayload(`id-${i}`, { method: 'PUT', key: `/k${i}`, value, dir: false, prevValue: '', prevIndex: 0, recursive: false, sorted: false, refresh: false, expireTime: 0, now: 1 })) }));
    const stream = await RawPeerStream.open(peer.url, CLUSTER, 1);
    const bytes = framed(encodeMessages([message({ type: 'app', from: 1, to: 2, term: 1, entries })]));
    assert.ok(bytes.length > 12 * 1024 * 1024);
    for (let at = 0; at < bytes.length; at += 1000) {
      stream.write(bytes.subarray(at, at + 1000));
      await stream.drained();
    }
    assert.equal((await stream.end()).status, 204);
    assert.equal(peer.received.length, 1);
    assert.equal(peer.received[0]!.entries.length, 12);
  });

  it('holds at most two frames\' limit of partial frames over all streams (each stream held one: 2.4 GiB over the connection cap)', async () => {
    const peer = await listener(dataDir, { maxFrameBytes: 1000 });
    close = peer.close;
    const command = { method: 'PUT' as const, key: '/k', value: 'v'.repeat(700), dir: false, prevValue: '', prevIndex: 0, recursive: false, sorted: false, refresh: false, expireTime: 0, now: 1 };
    const frame = framed(encodeMessages([message({ type: 'app', from: 1, to: 2, term: 1, entries: [{ term: 1, index: 1, type: 'normal', data: new Uint8Array(encodeKeysPayload('id', command)) }] })]));
    assert.ok(frame.length > 800 && frame.length <= 1004, `a frame of ${frame.length} bytes`);
    const partial = (stream: RawPeerStream): void => void stream.write(frame.subarray(0, -1));
    const first = await RawPeerStream.open(peer.url, CLUSTER, 1);
    const second = await RawPeerStream.open(peer.url, CLUSTER, 1);
    partial(first);
    partial(second);
    // Each frame is answered once handled: a heartbeat after the partial one would be held too.
    const probe = await RawPeerStream.open(peer.url, CLUSTER, 1);
    probe.send([message({ type: 'heartbeat', from: 1, to: 2, term: 1 })]);
    await waitUntil('the probe heartbeat', () => peer.received.length === 1);
    const third = await RawPeerStream.open(peer.url, CLUSTER, 1);
    partial(third);
    const outcome = await third.outcome;
    assert.equal(outcome.status, 400);
    assert.match(outcome.answer, /frames in progress hold over 2000 bytes/);
    // A stream that goes away gives back what it held.
    first.destroy();
    const fourth = await RawPeerStream.open(peer.url, CLUSTER, 1);
    await waitUntil('the first stream to close', () => first.closed);
    partial(fourth);
    fourth.write(frame.subarray(-1));
    assert.equal((await fourth.end()).status, 204);
    assert.equal(peer.received.at(-1)?.type, 'app');
    second.destroy();
    probe.destroy();
  });

  it('leaves a peer stream open past the headers timeout (Node\'s request timeout answered it 408)', async () => {
    const peer = await listener(dataDir, { headersTimeoutMs: 1000 });
    close = peer.close;
    assert.equal(peer.server.requestTimeout, 0);
    assert.equal(peer.server.headersTimeout, 1000);
    const stream = await RawPeerStream.open(peer.url, CLUSTER, 1);
    stream.send([message({ type: 'heartbeat', from: 1, to: 2, term: 1 })]);
    await waitUntil('the first heartbeat', () => peer.received.length === 1);
    // The event that proves the headers timeout has passed for the stream too: a connection opened
    // after it, sending nothing, is closed by that timeout. The stream stays silent meanwhile.
    const silent = net.connect(Number(new URL(peer.url).port), '127.0.0.1');
    silent.on('error', () => undefined);
    await new Promise((resolve) => silent.once('close', resolve));
    assert.equal(stream.closed, false);
    stream.send([message({ type: 'heartbeat', from: 1, to: 2, term: 2 })]);
    await waitUntil('the heartbeat sent past the timeout', () => peer.received.length === 2);
    assert.equal((await stream.end()).status, 204);
  });

  it('closes a connection that sends no request headers within the headers timeout', async () => {
    const peer = await listener(dataDir, { headersTimeoutMs: 1000 });
    close = peer.close;
    const port = Number(new URL(peer.url).port);
    const silent = net.connect(port, '127.0.0.1');
    silent.on('error', () => undefined);
    await new Promise((resolve) => silent.once('close', resolve));
  });

  it('caps the connections it takes', async () => {
    const settings = await listener(dataDir);
    assert.equal(settings.server.maxConnections, MAX_PEER_CONNECTIONS);
    settings.close();
    const peer = await listener(dataDir, { maxConnections: 2 });
    close = peer.close;
    const first = await RawPeerStream.open(peer.url, CLUSTER, 1);
    const second = await RawPeerStream.open(peer.url, CLUSTER, 1);
    first.send([message({ type: 'heartbeat', from: 1, to: 2, term: 1 })]);
    second.send([message({ type: 'heartbeat', from: 1, to: 2, term: 2 })]);
    await waitUntil('both streams', () => peer.received.length === 2);
    const third = await RawPeerStream.open(peer.url, CLUSTER, 1);
    third.send([message({ type: 'heartbeat', from: 1, to: 2, term: 3 })]);
    assert.equal((await third.outcome).status, undefined, 'closed unanswered');
    assert.equal(first.closed || second.closed, false);
    first.destroy();
    second.destroy();
  });

  it('refuses a snapshot that does not restore, and removes what it spooled', async () => {
    const seen: number[] = [];
    const peer = await listener(dataDir, {
      checkSnapshot: (data) => {
        seen.push(data.length);
        assert.ok(existsSync(path.join(dataDir, INCOMING_SNAPSHOT_FILE)), 'spooled to the data dir');
        return data[0] === 1 ? Promise.resolve() : Promise.reject(new RangeError('snapshot image: truncated head'));
      },
    });
    close = peer.close;
    const bad = await postSnapshot(peer.url, CLUSTER, 1, snapshotOf(3), Buffer.from('garbage'));
    assert.equal(bad.status, 400);
    assert.match(bad.answer, /truncated head/);
    assert.equal(peer.received.length, 0);
    assert.equal(existsSync(path.join(dataDir, INCOMING_SNAPSHOT_FILE)), false);
    const good = await postSnapshot(peer.url, CLUSTER, 1, snapshotOf(3), Buffer.alloc(3 * 1024 * 1024, 1));
    assert.equal(good.status, 204);
    assert.deepEqual(seen, [7, 3 * 1024 * 1024]);
    assert.equal(peer.received.length, 1);
    assert.equal(peer.received[0]!.snapshot!.data.length, 3 * 1024 * 1024);
    assert.equal(existsSync(path.join(dataDir, INCOMING_SNAPSHOT_FILE)), false);
  });

  it('receives one snapshot at a time, each bounded in size', async () => {
    const peer = await listener(dataDir);
    close = peer.close;
    const huge = await rawSnapshotRequest(peer.url, MAX_SNAPSHOT_BYTES + 1);
    assert.equal((await huge.outcome).status, 413);
    assert.equal((await postSnapshot(peer.url, CLUSTER, 7, { ...snapshotOf(3), from: 7 }, Buffer.alloc(10))).status, 403, 'from a non-member');
    const slow = await rawSnapshotRequest(peer.url, 1024 * 1024);
    slow.socket.write(Buffer.alloc(1000));
    await waitUntil('the first reception', () => existsSync(path.join(dataDir, INCOMING_SNAPSHOT_FILE)));
    const second = await postSnapshot(peer.url, CLUSTER, 1, snapshotOf(3), Buffer.alloc(10));
    assert.equal(second.status, 503);
    slow.socket.destroy();
    await waitUntil('the aborted reception to be removed', () => !existsSync(path.join(dataDir, INCOMING_SNAPSHOT_FILE)));
    assert.equal((await postSnapshot(peer.url, CLUSTER, 1, snapshotOf(3), Buffer.alloc(10))).status, 204);
  });
});

/** POST /raft/snapshot headers on a raw socket, declaring `length` bytes; the body is up to the test. */
async function rawSnapshotRequest(url: string, length: number): Promise<{ socket: net.Socket; outcome: Promise<{ status: number | undefined }> }> {
  const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.on('error', () => undefined);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const outcome = new Promise<{ status: number | undefined }>((resolve) => {
    socket.once('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? NaN) || undefined }));
  });
  socket.write(`POST /raft/snapshot HTTP/1.1\r\nhost: x\r\ncontent-length: ${length}\r\nx-etcd-cluster-id: ${CLUSTER}\r\nx-server-from: ${formatId(1)}\r\n\r\n`);
  return { socket, outcome };
}
