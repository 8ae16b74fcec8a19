import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { message } from '../../src/raft/types.ts';
import { Logger } from '../../src/server/logger.ts';
import type { TransportHost } from '../../src/server/transport-host.ts';
import { PeerTransport } from '../../src/server/peer-transport.ts';
import { decodeMessages, encodeMessages } from '../../src/server/peer-codec.ts';
import { waitUntil } from '../helpers/trees.ts';

/** Where the hosts' transports spool received snapshots. */
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kvd-peer-transport-'));

/** A transport host that records what happens to it. */
function host(id: NodeId, peers: Map<NodeId, string>, images = new Map<number, Uint8Array>()) {
  const events = { received: [] as Message[], snapshots: [] as Array<[NodeId, boolean]>, unreachable: [] as NodeId[] };
  const h: TransportHost = {
    id,
    clusterId: 42,
    dataDir,
    term: 0,
    lastIndex: 0,
    admits: () => true,
    checkSnapshot: () => Promise.resolve(),
    peerUrlsOf: (peer) => (peers.has(peer) ? [peers.get(peer)!] : undefined),
    receive: (messages) => events.received.push(...messages),
    reportUnreachable: (peer) => events.unreachable.push(peer),
    reportSnapshot: (peer, ok) => events.snapshots.push([peer, ok]),
    memberList: () => [],
    isRemoved: () => false,
    removedByPeer: () => undefined,
    snapshotImage: (index) => (images.has(index) ? Promise.resolve(images.get(index)!) : Promise.reject(new Error(`no snapshot at ${index}`))),
  };
  return { h, events };
}

const quiet = new Logger('error', 'text', () => undefined);

describe('peer transport and codec', () => {
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('the codec round-trips every field of a batch', () => {
    const batch: Message[] = [
      message({ type: 'app', from: 1, to: 2, term: 3, logTerm: 2, index: 9, commit: 8, entries: [{ term: 3, index: 10, type: 'normal', data: new Uint8Array([1, 2]) }, { term: 3, index: 11, type: 'confChange', data: new Uint8Array(0) }] }),
      message({ type: 'appResp', from: 2, to: 1, term: 3, index: 9, reject: true, rejectHint: 4, logTerm: 2 }),
      message({ type: 'heartbeat', from: 1, to: 2, term: 3, context: 'read-7' }),
      message({ type: 'snap', from: 1, to: 2, term: 3, snapshot: { meta: { index: 5, term: 2, confState: { voters: [1, 2], learners: [3] } }, data: new Uint8Array([9, 9, 9]) } }),
    ];
    assert.deepEqual(decodeMessages(encodeMessages(batch)), batch);
    assert.throws(() => decodeMessages(encodeMessages(batch).subarray(0, 20)), RangeError);
  });

  it('streams a multi-chunk snapshot on its own request and reports it delivered', async () => {
    const peers = new Map<NodeId, string>();
    const receiver = host(2, peers);
    const data = new Uint8Array(3.5 * 1024 * 1024).map((_, i) => i % 251);
    // The core's message carries no data: the transport reads the image from the data dir.
    const sender = host(1, peers, new Map([[100, data]]));
    const receiving = new PeerTransport(receiver.h, quiet);
    const server = http.createServer((req, res) => receiving.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    peers.set(2, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const sending = new PeerTransport(sender.h, quiet);
    try {
      const snap = message({ type: 'snap', from: 1, to: 2, term: 4, snapshot: { meta: { index: 100, term: 4, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array(0) } });
      sending.send([snap, message({ type: 'heartbeat', from: 1, to: 2, term: 4 })]);
      await waitUntil('receiver.events.received.length === 2 && sender.events.snapshots.length === 1', () => receiver.events.received.length === 2 && sender.events.snapshots.length === 1);
      const got = receiver.events.received.find((m) => m.type === 'snap')!;
      assert.deepEqual(got.snapshot!.meta, snap.snapshot!.meta);
      assert.ok(Buffer.from(got.snapshot!.data).equals(Buffer.from(data)));
      assert.deepEqual(sender.events.snapshots, [[2, true]]);
      // A snapshot replaced meanwhile (no longer readable at its index) is reported as failed.
      sending.send([message({ type: 'snap', from: 1, to: 2, term: 4, snapshot: { meta: { index: 90, term: 4, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array(0) } })]);
      await waitUntil('sender.events.snapshots.length === 2', () => sender.events.snapshots.length === 2);
      assert.deepEqual(sender.events.snapshots[1], [2, false]);
    } finally {
      sending.close();
      server.close();
    }
  });

  it('reports a snapshot that could not be delivered, and the peer as unreachable', async () => {
    const peers = new Map<NodeId, string>([[2, 'http://127.0.0.1:1']]);
    const sender = host(1, peers);
    const sending = new PeerTransport(sender.h, quiet);
    try {
      sending.send([message({ type: 'snap', from: 1, to: 2, term: 4, snapshot: { meta: { index: 1, term: 1, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array(10) } })]);
      await waitUntil('sender.events.snapshots.length === 1', () => sender.events.snapshots.length === 1);
      assert.deepEqual(sender.events.snapshots, [[2, false]]);
      assert.deepEqual(sender.events.unreachable, [2]);
    } finally {
      sending.close();
    }
  });

  it('sends batches on one stream, in order, and measures round trips from heartbeats', async () => {
    const peers = new Map<NodeId, string>();
    const receiver = host(2, peers);
    const sender = host(1, peers);
    const receiving = new PeerTransport(receiver.h, quiet);
    let connections = 0;
    const server = http.createServer((req, res) => receiving.handle(req, res));
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    peers.set(2, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const sending = new PeerTransport(sender.h, quiet);
    try {
      const expire = (time: number) => new TextEncoder().encode(JSON.stringify({ kind: 'expire', time }));
      for (let i = 1; i <= 500; i++) sending.send([message({ type: 'app', from: 1, to: 2, term: 1, index: i - 1, entries: [{ term: 1, index: i, type: 'normal', data: expire(i) }] })]);
      await waitUntil('receiver.events.received.length === 500', () => receiver.events.received.length === 500);
      assert.deepEqual(receiver.events.received.map((m) => m.entries[0]!.index), Array.from({ length: 500 }, (_, i) => i + 1));
      assert.equal(connections, 1);
      // A heartbeat out, its response back on the peer's own stream: one round trip measured.
      const back = http.createServer((req, res) => sending.handle(req, res));
      await new Promise<void>((resolve) => back.listen(0, '127.0.0.1', resolve));
      peers.set(1, `http://127.0.0.1:${(back.address() as AddressInfo).port}`);
      sending.send([message({ type: 'heartbeat', from: 1, to: 2, term: 1 })]);
      await waitUntil('receiver.events.received.length === 501', () => receiver.events.received.length === 501);
      receiving.send([message({ type: 'heartbeatResp', from: 2, to: 1, term: 1 })]);
      await waitUntil('sending.peerStats.get(2)?.success === 1', () => sending.peerStats.get(2)?.success === 1);
      receiving.close();
      back.closeAllConnections();
      back.close();
    } finally {
      sending.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it('reads frames split anywhere across the stream\'s chunks', async () => {
    const peers = new Map<NodeId, string>();
    const receiver = host(2, peers);
    const receiving = new PeerTransport(receiver.h, quiet);
    const server = http.createServer((req, res) => receiving.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const frames = [1, 2, 3].map((i) => {
        const frame = encodeMessages([message({ type: 'heartbeat', from: 1, to: 2, term: i })]);
        const length = Buffer.alloc(4);
        length.writeUInt32BE(frame.length);
        return Buffer.concat([length, frame]);
      });
      const bytes = Buffer.concat(frames);
      const request = http.request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, method: 'POST', path: '/raft', headers: { 'x-etcd-cluster-id': '000000000000002a', 'x-server-from': '0000000000000001' } });
      for (let at = 0; at < bytes.length; at += 7) {
        request.write(bytes.subarray(at, at + 7));
        // Pacing, not a wait for anything: each piece leaves in a segment of its own.
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const answered = new Promise<number | undefined>((resolve) => {
        request.on('response', (response) => {
          response.resume();
          resolve(response.statusCode);
        });
        request.on('error', () => resolve(undefined));
      });
      request.end();
      await waitUntil('receiver.events.received.length === 3', () => receiver.events.received.length === 3);
      assert.equal(await answered, 204);
      assert.deepEqual(receiver.events.received.map((m) => m.term), [1, 2, 3]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
