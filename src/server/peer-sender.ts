import type http from 'node:http';
import type { Message, NodeId } from '../raft/types.ts';
import { chunkOf, directSocket } from './chunked.ts';
import type { Logger } from './logger.ts';
import { formatId } from './member-id.ts';
import type { Outbound } from './outbound.ts';
import { encodeMessages } from './peer-codec.ts';
import { FRAME_SPLIT_BYTES, RAFT_PATH, SNAPSHOT_PATH } from './peer-protocol.ts';
import { PeerRoundTrips } from './peer-stats.ts';
import type { TransportHost } from './transport-host.ts';

const SNAPSHOT_CHUNK = 1024 * 1024;
const MAX_QUEUED = 4096;
/** A stream that has not drained for this long is assumed dead (a partition) and replaced. */
const STALL_MS = 5000;
const RECONNECT_PAUSE_MS = 100;

interface PeerStream {
  readonly request: http.ClientRequest;
  /** When the stream last refused more data (0: it takes data). */
  stalledSince: number;
}

/**
 * The sending side of the peer transport. Messages to one peer queue up while its stream cannot
 * take more and then go together as one binary frame; a peer that does not answer is reported to
 * the core and never holds up the others. Snapshots go on requests of their own.
 */
export class PeerSender {
  private readonly host: TransportHost;
  private readonly log: Logger;
  private readonly outbound: Outbound;
  private readonly queues = new Map<NodeId, Message[]>();
  private readonly streams = new Map<NodeId, PeerStream>();
  /** When a peer whose stream broke may be dialled again. */
  private readonly retryAt = new Map<NodeId, number>();
  private readonly unreachableLogged = new Set<NodeId>();
  private closed = false;
  readonly roundTrips = new PeerRoundTrips();
  /** Append messages sent, for /v2/stats/self. */
  sentAppends = 0;

  constructor(host: TransportHost, log: Logger, outbound: Outbound) {
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

  /** A message from a peer: a heartbeat response closes a round trip, and the peer answers again. */
  observe(m: Message): void {
    if (this.roundTrips.answered(m)) this.unreachableLogged.delete(m.from);
  }

  close(): void {
    this.closed = true;
    for (const stream of this.streams.values()) stream.request.destroy();
    this.streams.clear();
    this.outbound.close();
  }

  /**
   * Writes what is queued for `to` as one frame on the open stream to it (opening one if needed).
   * While the stream cannot take more (the peer reads slowly) messages queue up and go together
   * in the next frame; a peer that has not drained for STALL_MS gets a new connection.
   */
  private flush(to: NodeId): void {
    if (this.closed) return;
    const batch = this.queues.get(to);
    if (batch === undefined || batch.length === 0) return;
    let stream = this.streams.get(to);
    if (stream === undefined) {
      const urls = this.host.peerUrlsOf(to);
      if (urls === undefined || urls.length === 0 || Date.now() < (this.retryAt.get(to) ?? 0)) {
        this.queues.set(to, []);
        this.failed(to, batch, urls === undefined || urls.length === 0 ? 'no peer URL known' : 'reconnecting');
        return;
      }
      stream = this.openStream(to, urls[0]!);
    }
    if (stream.request.writableNeedDrain || stream.request.socket?.writableNeedDrain === true) {
      if (Date.now() - stream.stalledSince > STALL_MS) this.dropStream(to, stream, `no progress in ${STALL_MS} ms`);
      return;
    }
    this.queues.set(to, []);
    for (const m of batch) {
      if (m.type === 'app') this.sentAppends++;
      if (m.type === 'heartbeat') this.roundTrips.heartbeatSent(to);
    }
    let taken = true;
    for (const messages of framesOf(batch)) taken = this.writeFrame(stream, encodeMessages(messages));
    if (!taken) stream.stalledSince = Date.now();
  }

  /** Writes one frame, length first; false when the stream wants to drain. */
  private writeFrame(stream: PeerStream, frame: Buffer): boolean {
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(frame.length, 0);
    // Once the stream is set up, each frame is one chunk in one socket write.
    const socket = directSocket(stream.request);
    return socket !== undefined ? socket.write(chunkOf(frame, length)) : stream.request.write(Buffer.concat([length, frame]));
  }

  /** A long-lived POST /raft to the peer: frames go out as they come, in order, with no round trip each. */
  private openStream(to: NodeId, url: string): PeerStream {
    const request = this.outbound.request(new URL(RAFT_PATH, url), { method: 'POST', headers: this.peerHeaders() });
    const stream: PeerStream = { request, stalledSince: 0 };
    this.streams.set(to, stream);
    request.on('socket', (socket) => {
      socket.setNoDelay(true);
      // Frames written straight to the socket (directSocket) wait for its drain, not the request's.
      socket.on('drain', () => this.flush(to));
    });
    request.on('drain', () => this.flush(to));
    request.on('error', (error: NodeJS.ErrnoException) => this.dropStream(to, stream, error.code ?? error.message));
    request.on('response', (response) => {
      response.resume();
      if (response.statusCode === 410) this.host.removedByPeer();
      this.dropStream(to, stream, `answered ${response.statusCode}`);
    });
    request.flushHeaders();
    return stream;
  }

  /** Forgets a broken stream; the next send opens another, after a short pause. */
  private dropStream(to: NodeId, stream: PeerStream, reason: string): void {
    if (this.streams.get(to) !== stream) return;
    this.streams.delete(to);
    stream.request.destroy();
    this.roundTrips.broke(to);
    if (!this.closed) {
      this.retryAt.set(to, Date.now() + RECONNECT_PAUSE_MS);
      this.failed(to, [], reason);
    }
  }

  /**
   * A snapshot goes on a request of its own, streamed: a frame with the message (its data left
   * out), then the data in 1 MiB chunks, waiting for the socket to drain between chunks. The
   * peer's other messages keep flowing meanwhile; the outcome is reported to the core.
   */
  private sendSnapshot(m: Message): void {
    const snapshot = m.snapshot!;
    const data = snapshot.data.length > 0 ? Promise.resolve(snapshot.data) : this.host.snapshotImage(snapshot.meta.index);
    data.then(
      (bytes) => this.streamSnapshot(m, bytes),
      (error: unknown) => this.failed(m.to, [m], `cannot read the snapshot: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  private streamSnapshot(m: Message, data: Uint8Array): void {
    const urls = this.host.peerUrlsOf(m.to);
    const snapshot = m.snapshot!;
    if (this.closed || urls === undefined || urls.length === 0) {
      this.failed(m.to, [m], 'no peer URL known');
      return;
    }
    const head = encodeMessages([{ ...m, snapshot: { meta: snapshot.meta, data: new Uint8Array(0) } }]);
    const request = this.outbound.request(new URL(SNAPSHOT_PATH, urls[0]), {
      method: 'POST',
      headers: { ...this.peerHeaders(), 'content-length': 4 + head.length + data.length },
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

  /** Who sends, to which cluster: the listener refuses another cluster's requests. */
  private peerHeaders(): http.OutgoingHttpHeaders {
    return {
      'content-type': 'application/octet-stream',
      'x-etcd-cluster-id': formatId(this.host.clusterId),
      'x-server-from': formatId(this.host.id),
      'x-peerurls': (this.host.peerUrlsOf(this.host.id) ?? []).join(','),
    };
  }

  private failed(to: NodeId, batch: readonly Message[], reason: string): void {
    if (!this.unreachableLogged.has(to)) {
      this.unreachableLogged.add(to);
      this.log.warn('peer unreachable', { peer: formatId(to), reason });
    }
    this.host.reportUnreachable(to);
    for (const m of batch) if (m.type === 'snap') this.host.reportSnapshot(to, false);
  }
}

/** Splits a batch into frames of about FRAME_SPLIT_BYTES (a message bigger than that alone). */
function* framesOf(batch: readonly Message[]): Generator<readonly Message[]> {
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < batch.length; i++) {
    const size = sizeOf(batch[i]!);
    if (i > start && bytes + size > FRAME_SPLIT_BYTES) {
      yield batch.slice(start, i);
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (start < batch.length) yield start === 0 ? batch : batch.slice(start);
}

/** About how many bytes a message takes in a frame. */
function sizeOf(m: Message): number {
  let size = 128 + m.context.length;
  for (const entry of m.entries) size += 32 + entry.data.length;
  return size + (m.snapshot?.data.length ?? 0);
}
