import type http from 'node:http';
import type { Message, NodeId } from '../raft/types.ts';
import type { Logger } from './logger.ts';
import { Outbound } from './outbound.ts';
import { formatId, parseId } from './member-id.ts';
import { decodeMessages, encodeMessages } from './peer-codec.ts';

export const RAFT_PATH = '/raft';
export const SNAPSHOT_PATH = '/raft/snapshot';
const SNAPSHOT_CHUNK = 1024 * 1024;
export const MEMBERS_PATH = '/members';
const MAX_QUEUED = 4096;
const MAX_FRAME_BYTES = 512 * 1024 * 1024;

/** Round trips to one peer, as /v2/stats/leader reports them (latency in milliseconds). */
export interface PeerStats {
  success: number;
  fail: number;
  current: number;
  minimum: number;
  maximum: number;
  sum: number;
  sumOfSquares: number;
}

/** What the transport needs from its member. */
export interface TransportHost {
  readonly id: NodeId;
  readonly clusterId: number;
  peerUrlsOf(id: NodeId): readonly string[] | undefined;
  receive(messages: readonly Message[]): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, succeeded: boolean): void;
  /** The membership, for a member joining with --initial-cluster-state existing. */
  membershipRecord(): unknown;
  /** Whether `id` was removed from the cluster (its messages get 410 Gone). */
  isRemoved(id: NodeId): boolean;
  /** A peer answered 410 Gone to this member. */
  removedByPeer(): void;
}

/**
 * Raft messages between members over HTTP keep-alive connections. Messages to one peer queue up
 * while its previous POST is in flight and then go together as one binary frame; a peer that does
 * not answer is reported to the core and never holds up the others.
 */
export class PeerTransport {
  private readonly host: TransportHost;
  private readonly log: Logger;
  private readonly outbound: Outbound;
  private readonly queues = new Map<NodeId, Message[]>();
  private readonly inFlight = new Set<NodeId>();
  private readonly unreachableLogged = new Set<NodeId>();
  private closed = false;
  readonly peerStats = new Map<NodeId, PeerStats>();
  /** Append messages sent and received, for /v2/stats/self. */
  sentAppends = 0;
  receivedAppends = 0;

  constructor(host: TransportHost, log: Logger, outbound: Outbound = new Outbound(undefined, 2)) {
    this.host = host;
    this.log = log;
    this.outbound = outbound;
  }

  send(messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.type === 'snap') {
        this.sendSnapshot(m);
        continue;
      }
      let queue = this.queues.get(m.to);
      if (queue === undefined) {
        queue = [];
        this.queues.set(m.to, queue);
      }
      // Raft tolerates lost messages; a peer that falls this far behind gets a snapshot later.
      if (queue.length >= MAX_QUEUED) queue.shift();
      queue.push(m);
    }
    for (const to of this.queues.keys()) this.flush(to);
  }

  private flush(to: NodeId): void {
    if (this.closed || this.inFlight.has(to)) return;
    const batch = this.queues.get(to);
    if (batch === undefined || batch.length === 0) return;
    this.queues.set(to, []);
    const urls = this.host.peerUrlsOf(to);
    if (urls === undefined || urls.length === 0) {
      this.failed(to, batch, 'no peer URL known');
      return;
    }
    this.inFlight.add(to);
    for (const m of batch) if (m.type === 'app') this.sentAppends++;
    const body = encodeMessages(batch);
    const started = performance.now();
    const request = this.outbound.request(new URL(RAFT_PATH, urls[0]), {
      method: 'POST',
      timeout: 5000,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': body.length,
        'x-etcd-cluster-id': formatId(this.host.clusterId),
        'x-server-from': formatId(this.host.id),
      },
    });
    const done = (error?: string) => {
      this.inFlight.delete(to);
      this.record(to, error === undefined ? performance.now() - started : undefined);
      if (error === undefined) {
        this.unreachableLogged.delete(to);
        for (const m of batch) if (m.type === 'snap') this.host.reportSnapshot(to, true);
      } else {
        this.failed(to, batch, error);
      }
      this.flush(to);
    };
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => {
        if (response.statusCode === 410) this.host.removedByPeer();
        if (response.statusCode === 204) done();
        else done(`answered ${response.statusCode}`);
      });
      response.on('error', (error) => done(error.message));
    });
    request.end(body);
  }

  private record(to: NodeId, latencyMs: number | undefined): void {
    let stats = this.peerStats.get(to);
    if (stats === undefined) {
      stats = { success: 0, fail: 0, current: 0, minimum: Infinity, maximum: 0, sum: 0, sumOfSquares: 0 };
      this.peerStats.set(to, stats);
    }
    if (latencyMs === undefined) {
      stats.fail++;
      return;
    }
    stats.success++;
    stats.current = latencyMs;
    stats.minimum = Math.min(stats.minimum, latencyMs);
    stats.maximum = Math.max(stats.maximum, latencyMs);
    stats.sum += latencyMs;
    stats.sumOfSquares += latencyMs * latencyMs;
  }

  /**
   * A snapshot goes on a request of its own, streamed: a frame with the message (its data left
   * out), then the data in 1 MiB chunks, waiting for the socket to drain between chunks. The
   * peer's other messages keep flowing meanwhile; the outcome is reported to the core.
   */
  private sendSnapshot(m: Message): void {
    const urls = this.host.peerUrlsOf(m.to);
    const snapshot = m.snapshot!;
    if (this.closed || urls === undefined || urls.length === 0) {
      this.failed(m.to, [m], 'no peer URL known');
      return;
    }
    const head = encodeMessages([{ ...m, snapshot: { meta: snapshot.meta, data: new Uint8Array(0) } }]);
    const data = snapshot.data;
    const request = this.outbound.request(new URL(SNAPSHOT_PATH, urls[0]), {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': 4 + head.length + data.length,
        'x-etcd-cluster-id': formatId(this.host.clusterId),
        'x-server-from': formatId(this.host.id),
      },
    });
    let settled = false;
    const done = (error?: string): void => {
      if (settled) return;
      settled = true;
      if (error === undefined) this.host.reportSnapshot(m.to, true);
      else this.failed(m.to, [m], error);
    };
    request.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => (response.statusCode === 204 ? done() : done(`answered ${response.statusCode}`)));
    });
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(head.length, 0);
    request.write(length);
    request.write(head);
    let offset = 0;
    const writeChunks = (): void => {
      while (offset < data.length) {
        const chunk = data.subarray(offset, offset + SNAPSHOT_CHUNK);
        offset += chunk.length;
        if (!request.write(chunk)) {
          request.once('drain', writeChunks);
          return;
        }
      }
      request.end();
    };
    writeChunks();
  }

  private failed(to: NodeId, batch: readonly Message[], reason: string): void {
    if (!this.unreachableLogged.has(to)) {
      this.unreachableLogged.add(to);
      this.log.warn('peer unreachable', { peer: formatId(to), reason });
    }
    this.host.reportUnreachable(to);
    for (const m of batch) if (m.type === 'snap') this.host.reportSnapshot(to, false);
  }

  /** The peer listener's request handler: POST /raft with a frame of messages. */
  handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    if (request.method === 'GET' && request.url === MEMBERS_PATH) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.host.membershipRecord()));
      return;
    }
    const snapshotRequest = request.method === 'POST' && request.url === SNAPSHOT_PATH;
    if (request.method !== 'POST' || (request.url !== RAFT_PATH && !snapshotRequest)) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    const cluster = request.headers['x-etcd-cluster-id'];
    if (cluster !== formatId(this.host.clusterId)) {
      this.log.warn('refused a peer of another cluster', { from: String(request.headers['x-server-from'] ?? '?'), cluster: String(cluster ?? '') });
      response.writeHead(412, { 'content-type': 'text/plain; charset=utf-8' }).end('cluster ID mismatch\n');
      return;
    }
    const from = parseId(String(request.headers['x-server-from'] ?? ''));
    if (from !== undefined && this.host.isRemoved(from)) {
      request.resume();
      response.writeHead(410, { 'content-type': 'text/plain; charset=utf-8' }).end('the member has been permanently removed from the cluster\n');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FRAME_BYTES) request.destroy();
      else chunks.push(chunk);
    });
    request.on('end', () => {
      let messages: Message[];
      try {
        const body = Buffer.concat(chunks);
        messages = snapshotRequest ? decodeSnapshotRequest(body) : decodeMessages(body);
      } catch (error) {
        response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(`${(error as Error).message}\n`);
        return;
      }
      const mine = messages.filter((m) => m.to === this.host.id);
      for (const m of mine) if (m.type === 'app') this.receivedAppends++;
      this.host.receive(mine);
      response.writeHead(204).end();
    });
  }

  close(): void {
    this.closed = true;
    this.outbound.close();
  }
}

/** A streamed snapshot: u32 frame length, the frame (one snap message without data), the data. */
function decodeSnapshotRequest(body: Buffer): Message[] {
  if (body.length < 4) throw new RangeError('snapshot request: truncated');
  const headLength = body.readUInt32BE(0);
  const [message] = decodeMessages(body.subarray(4, 4 + headLength));
  if (message === undefined || message.type !== 'snap' || message.snapshot === undefined) throw new RangeError('snapshot request: no snapshot message');
  return [{ ...message, snapshot: { meta: message.snapshot.meta, data: new Uint8Array(body.subarray(4 + headLength)) } }];
}
