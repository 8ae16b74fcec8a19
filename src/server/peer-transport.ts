import { open, readFile, rm } from 'node:fs/promises';
import type http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { Message, NodeId } from '../raft/types.ts';
import { chunkOf, directSocket } from './chunked.ts';
import { FrameReader } from './frame-reader.ts';
import type { Logger } from './logger.ts';
import type { MemberInfo } from './member-info.ts';
import { Outbound } from './outbound.ts';
import { formatId, parseId } from './member-id.ts';
import { INCOMING_SNAPSHOT_FILE } from '../storage/data-dir-check.ts';
import { checkEntry } from './payload.ts';
import { decodeMessages, encodeMessages } from './peer-codec.ts';
import { encodePeerMembers } from './peer-members.ts';

export const RAFT_PATH = '/raft';
export const SNAPSHOT_PATH = '/raft/snapshot';
const SNAPSHOT_CHUNK = 1024 * 1024;
export const MEMBERS_PATH = '/members';
const MAX_QUEUED = 4096;
/** A sender starts a new frame once one holds this much (one message may make a frame bigger). */
const FRAME_SPLIT_BYTES = 4 * 1024 * 1024;
/** The largest snapshot a member takes (streamed to a file in its data dir as it arrives). */
export const MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024;
/** Connections the peer listener takes at once: a few per member is all a cluster uses. */
export const MAX_PEER_CONNECTIONS = 128;
/** Refusals of another cluster's requests are logged at most this often. */
const OTHER_CLUSTER_WARN_MS = 10_000;
/**
 * Terms up to SOFT_TERM_LIMIT are taken as Raft takes them. Above it, a message may raise this
 * member's term by at most TERM_STEP: otherwise a peer could push every member to 2^53 - 1, where
 * a candidate's next term is no longer exact (nor accepted) and elections stop for good. Honest
 * terms never come near 2^52, so only a cluster that was pushed there is slowed, not stopped.
 */
const SOFT_TERM_LIMIT = 2 ** 52;
const TERM_STEP = 1024;
/** How long a connection to the peer listener may take to send its request's headers. */
export const PEER_HEADERS_TIMEOUT_MS = 10_000;
/** A stream that has not drained for this long is assumed dead (a partition) and replaced. */
const STALL_MS = 5000;
const RECONNECT_PAUSE_MS = 100;

interface PeerStream {
  readonly request: http.ClientRequest;
  /** When the stream last refused more data (0: it takes data). */
  stalledSince: number;
}

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
  /** The member's data dir: a snapshot being received is written there. */
  readonly dataDir: string;
  /** The member's current Raft term. */
  readonly term: number;
  /** The index of the last entry in the member's Raft log. */
  readonly lastIndex: number;
  /** Whether `id` is a member of the cluster now (messages from others are dropped). */
  isMember(id: NodeId): boolean;
  /** Rejects unless a snapshot's data restores (before its message may reach Raft). */
  checkSnapshot(data: Uint8Array): Promise<void>;
  peerUrlsOf(id: NodeId): readonly string[] | undefined;
  receive(messages: readonly Message[]): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, succeeded: boolean): void;
  /** The data of the snapshot at `index`, read from the data dir; rejects if that is no longer the one. */
  snapshotImage(index: number): Promise<Uint8Array>;
  /** The members, for a member joining with --initial-cluster-state existing (and proxies). */
  memberList(): Iterable<MemberInfo>;
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
  private readonly streams = new Map<NodeId, PeerStream>();
  /** When a peer whose stream broke may be dialled again. */
  private readonly retryAt = new Map<NodeId, number>();
  /** The first unanswered heartbeat to each peer, for the round-trip latency. */
  private readonly heartbeatSentAt = new Map<NodeId, number>();
  private readonly unreachableLogged = new Set<NodeId>();
  private closed = false;
  /** Requests of another cluster refused since the last warning, and when the next may be logged. */
  private otherClusterRefused = 0;
  private otherClusterWarnAt = 0;
  readonly peerStats = new Map<NodeId, PeerStats>();
  /** Append messages sent and received, for /v2/stats/self. */
  sentAppends = 0;
  receivedAppends = 0;

  /** The largest frame taken from a peer; bigger ones are refused from their length. */
  private readonly maxFrameBytes: number;
  /** Whether a snapshot is being received (one at a time). */
  private receivingSnapshot = false;
  /**
   * The bytes held for frames not yet complete, over every stream. A frame is joined when whole,
   * so each stream may hold one frame's bytes: with MAX_PEER_CONNECTIONS streams, 2.4 GiB. Only
   * a leader sends big frames, so twice one frame's limit is all a member needs.
   */
  private partialFrameBytes = 0;

  constructor(host: TransportHost, log: Logger, outbound: Outbound = new Outbound(undefined, 4), maxFrameBytes = maxFrameBytesFor(1.5 * 1024 * 1024)) {
    this.host = host;
    this.log = log;
    this.outbound = outbound;
    this.maxFrameBytes = maxFrameBytes;
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
      if (m.type === 'heartbeat' && !this.heartbeatSentAt.has(to)) this.heartbeatSentAt.set(to, performance.now());
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
    const request = this.outbound.request(new URL(RAFT_PATH, url), {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'x-etcd-cluster-id': formatId(this.host.clusterId),
        'x-server-from': formatId(this.host.id),
      },
    });
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
    this.heartbeatSentAt.delete(to);
    this.record(to, undefined);
    if (!this.closed) {
      this.retryAt.set(to, Date.now() + RECONNECT_PAUSE_MS);
      this.failed(to, [], reason);
    }
  }

  /** A heartbeat response closes the round trip that /v2/stats/leader reports as latency. */
  private observe(m: Message): void {
    if (m.type !== 'heartbeatResp') return;
    const sent = this.heartbeatSentAt.get(m.from);
    if (sent === undefined) return;
    this.heartbeatSentAt.delete(m.from);
    this.unreachableLogged.delete(m.from);
    this.record(m.from, performance.now() - sent);
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
      const body = `${encodePeerMembers(this.host.memberList())}\n`;
      response.writeHead(200, { 'content-type': 'application/json', 'x-etcd-cluster-id': formatId(this.host.clusterId), 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    const snapshotRequest = request.method === 'POST' && request.url === SNAPSHOT_PATH;
    if (request.method !== 'POST' || (request.url !== RAFT_PATH && !snapshotRequest)) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    const cluster = request.headers['x-etcd-cluster-id'];
    // Compared as numbers: earlier kvd versions printed ids zero-padded, and their members send them so.
    if (typeof cluster !== 'string' || parseId(cluster) !== this.host.clusterId) {
      this.warnOtherCluster(request.headers['x-server-from'], cluster);
      response.writeHead(412, { 'content-type': 'text/plain; charset=utf-8' }).end('cluster ID mismatch\n');
      return;
    }
    const from = parseId(String(request.headers['x-server-from'] ?? ''));
    if (from === undefined) {
      request.resume();
      response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('x-server-from: not a member id\n');
      return;
    }
    if (this.host.isRemoved(from)) {
      request.resume();
      response.writeHead(410, { 'content-type': 'text/plain; charset=utf-8' }).end('the member has been permanently removed from the cluster\n');
      return;
    }
    if (snapshotRequest) return void this.receiveSnapshot(request, response, from);
    // A stream of frames, each a u32 length and that many bytes; messages are delivered as their
    // frame completes.
    const frames = new FrameReader(this.maxFrameBytes);
    let held = 0;
    const release = (): void => {
      this.partialFrameBytes -= held;
      held = 0;
    };
    request.once('close', release);
    const refuse = (reason: string): void => {
      release();
      this.log.warn('refused a malformed peer frame', { from: formatId(from), reason });
      request.removeAllListeners('data');
      if (!response.headersSent) response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(`${reason}\n`);
      request.destroy();
    };
    request.on('data', (chunk: Buffer) => {
      let completed: Buffer[];
      try {
        completed = frames.push(chunk);
      } catch (error) {
        return refuse((error as Error).message);
      }
      this.partialFrameBytes += frames.pendingBytes - held;
      held = frames.pendingBytes;
      if (this.partialFrameBytes > 2 * this.maxFrameBytes) return refuse(`peer frames in progress hold over ${2 * this.maxFrameBytes} bytes`);
      for (const frame of completed) {
        // A member removed while its stream was open learns it from our 410.
        if (this.host.isRemoved(from)) {
          request.removeAllListeners('data');
          request.resume();
          response.writeHead(410, { 'content-type': 'text/plain; charset=utf-8' }).end('the member has been permanently removed from the cluster\n');
          return;
        }
        let messages: Message[];
        try {
          messages = decodeMessages(frame);
          for (const m of messages) checkStreamed(m);
        } catch (error) {
          return refuse((error as Error).message);
        }
        this.deliver(from, messages);
      }
    });
    request.on('end', () => {
      if (!response.headersSent) response.writeHead(204).end();
    });
  }

  /**
   * Hands the messages meant for this member to it: only from the member the stream is from, and
   * only while that one is a member (a peer may say anything in a message; Raft must not hear it).
   */
  /**
   * One line at most every OTHER_CLUSTER_WARN_MS, with how many were refused since, and only the
   * ids the headers hold (never their raw text): anyone who reaches the peer port can send these.
   */
  private warnOtherCluster(fromHeader: unknown, clusterHeader: unknown): void {
    this.otherClusterRefused++;
    const now = Date.now();
    if (now < this.otherClusterWarnAt) return;
    this.otherClusterWarnAt = now + OTHER_CLUSTER_WARN_MS;
    const idOf = (header: unknown) => {
      const id = typeof header === 'string' ? parseId(header) : undefined;
      return id === undefined ? 'not an id' : formatId(id);
    };
    this.log.warn('refused a peer of another cluster', { from: idOf(fromHeader), cluster: idOf(clusterHeader), refused: this.otherClusterRefused });
    this.otherClusterRefused = 0;
  }

  private deliver(from: NodeId, messages: readonly Message[]): void {
    const mine = messages.filter((m) => m.to === this.host.id && m.from === from && this.plausible(m));
    if (mine.length < messages.length) this.log.warn('dropped peer messages that are not from their sender, not for this member, or impossible', { from: formatId(from), dropped: messages.length - mine.length });
    if (mine.length === 0) return;
    if (!this.host.isMember(from)) {
      this.log.debug('dropped peer messages from a non-member', { from: formatId(from) });
      return;
    }
    for (const m of mine) {
      if (m.type === 'app') this.receivedAppends++;
      this.observe(m);
    }
    this.host.receive(mine);
  }

  /**
   * Whether a message could come from a correct member, as far as this member's own state tells.
   * An append answer for entries this member never had would move a follower's progress past
   * its log: the leader then looks for entries that do not exist and its Raft core throws.
   */
  private plausible(m: Message): boolean {
    if (m.term > SOFT_TERM_LIMIT && m.term > this.host.term + TERM_STEP) return false;
    return m.type !== 'appResp' || m.index <= this.host.lastIndex;
  }

  /**
   * POST /raft/snapshot: the body is written to a file in the data dir as it arrives (bounded in
   * size, one reception at a time), then read back, checked to restore, and delivered; the file
   * is removed whatever the outcome.
   */
  private async receiveSnapshot(request: http.IncomingMessage, response: http.ServerResponse, from: NodeId): Promise<void> {
    const answer = (status: number, text?: string): void => {
      if (response.headersSent) return;
      if (text === undefined) response.writeHead(status).end();
      else response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(`${text}\n`);
    };
    const declared = Number(request.headers['content-length'] ?? NaN);
    if (!Number.isSafeInteger(declared) || declared > MAX_SNAPSHOT_BYTES) {
      answer(Number.isSafeInteger(declared) ? 413 : 411, `a snapshot needs a content-length of at most ${MAX_SNAPSHOT_BYTES} bytes`);
      return void request.destroy();
    }
    if (!this.host.isMember(from)) {
      answer(403, 'not a member of this cluster');
      return void request.destroy();
    }
    if (this.receivingSnapshot) {
      answer(503, 'already receiving a snapshot');
      return void request.destroy();
    }
    this.receivingSnapshot = true;
    const file = path.join(this.host.dataDir, INCOMING_SNAPSHOT_FILE);
    let messages: Message[] | undefined;
    let refusal = '';
    try {
      await spool(request, file, declared);
      messages = decodeSnapshotRequest(await readFile(file));
      await this.host.checkSnapshot(messages[0]!.snapshot!.data);
    } catch (error) {
      messages = undefined;
      refusal = error instanceof Error ? error.message : String(error);
    }
    await rm(file, { force: true }).catch((error: unknown) => this.log.warn('cannot remove a received snapshot', { file, error: String(error) }));
    this.receivingSnapshot = false;
    if (messages === undefined) {
      this.log.warn('refused a snapshot from a peer', { from: formatId(from), reason: refusal });
      answer(400, refusal);
      return void request.destroy();
    }
    this.deliver(from, messages);
    answer(204);
  }

  close(): void {
    this.closed = true;
    for (const stream of this.streams.values()) stream.request.destroy();
    this.streams.clear();
    this.outbound.close();
  }
}

/** A streamed snapshot: u32 frame length, the frame (one snap message without data), the data. */
function decodeSnapshotRequest(body: Buffer): Message[] {
  if (body.length < 4) throw new RangeError('snapshot request: truncated');
  const headLength = body.readUInt32BE(0);
  if (4 + headLength > body.length) throw new RangeError('snapshot request: truncated');
  const messages = decodeMessages(body.subarray(4, 4 + headLength));
  const message = messages[0];
  if (messages.length !== 1 || message?.type !== 'snap' || message.snapshot === undefined) throw new RangeError('snapshot request: not one snapshot message');
  return [{ ...message, snapshot: { meta: message.snapshot.meta, data: body.subarray(4 + headLength) } }];
}

/** Writes a request's body to `file`, refusing more than `limit` bytes. */
async function spool(request: http.IncomingMessage, file: string, limit: number): Promise<void> {
  const handle = await open(file, 'w', 0o600);
  try {
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new RangeError('snapshot request: longer than its content-length');
      await handle.write(chunk);
    }
    if (size !== limit) throw new RangeError('snapshot request: truncated');
  } finally {
    await handle.close();
  }
}

/**
 * What a stream of frames may carry: no snapshot (those come on their own request, where their
 * data is checked to restore), and entries that decode as their type says (one that does not
 * never enters a log).
 */
function checkStreamed(m: Message): void {
  if (m.type === 'snap') throw new RangeError(`peer frame: a snapshot belongs on ${SNAPSHOT_PATH}`);
  for (const entry of m.entries) checkEntry(entry);
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

/**
 * The largest frame a member takes: a frame holds FRAME_SPLIT_BYTES of messages, or one message
 * that is bigger: an append of one entry, which is at most a client request.
 */
export function maxFrameBytesFor(maxRequestBytes: number): number {
  return 4 * FRAME_SPLIT_BYTES + 2 * maxRequestBytes;
}

/**
 * Bounds what the peer listener costs: a connection cap, a deadline for the request headers, and
 * no deadline for a whole request (a peer's stream of frames lives as long as the peer does;
 * Node's default of 300 s answered it 408). Node's headers deadline counts from a request's first
 * byte and is checked every 30 s; a connection also may not stay silent for the deadline before
 * its first request's headers are complete.
 */
export function limitPeerListener(server: http.Server, maxConnections = MAX_PEER_CONNECTIONS, headersTimeoutMs = PEER_HEADERS_TIMEOUT_MS): void {
  server.maxConnections = maxConnections;
  server.requestTimeout = 0;
  server.headersTimeout = headersTimeoutMs;
  server.on(server instanceof tls.Server ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    socket.setTimeout(headersTimeoutMs, () => socket.destroy());
  });
  server.on('request', (request: http.IncomingMessage) => request.socket.setTimeout(0));
}
