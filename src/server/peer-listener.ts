import type http from 'node:http';
import type { Message, NodeId } from '../raft/types.ts';
import { FrameReader } from './frame-reader.ts';
import type { Logger } from './logger.ts';
import { formatId, parseId } from './member-id.ts';
import { checkEntry } from './payload.ts';
import { decodeMessages } from './peer-codec.ts';
import { encodePeerMembers } from './peer-members.ts';
import { MEMBERS_PATH, RAFT_PATH, SNAPSHOT_PATH } from './peer-protocol.ts';
import { SnapshotReceiver } from './snapshot-receiver.ts';
import type { TransportHost } from './transport-host.ts';

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
const REMOVED = 'the member has been permanently removed from the cluster';

/**
 * The receiving side of the peer transport: the peer listener's requests. Everything a peer sends
 * is checked before Raft hears it: its cluster and member id, each frame's size and decoding, and
 * each message's sender, addressee and plausibility.
 */
export class PeerListener {
  private readonly host: TransportHost;
  private readonly log: Logger;
  private readonly snapshots: SnapshotReceiver;
  /** Told of every message delivered (heartbeat round trips are measured from the answers). */
  private readonly observe: (m: Message) => void;
  /** The largest frame taken from a peer; bigger ones are refused from their length. */
  private readonly maxFrameBytes: number;
  /**
   * The bytes held for frames not yet complete, over every stream. A frame is joined when whole,
   * so each stream may hold one frame's bytes: with MAX_PEER_CONNECTIONS streams, 2.4 GiB. Only
   * a leader sends big frames, so twice one frame's limit is all a member needs.
   */
  private partialFrameBytes = 0;
  /** Requests of another cluster refused since the last warning, and when the next may be logged. */
  private otherClusterRefused = 0;
  private otherClusterWarnAt = 0;
  /** Append messages received, for /v2/stats/self. */
  receivedAppends = 0;

  constructor(host: TransportHost, log: Logger, maxFrameBytes: number, observe: (m: Message) => void) {
    this.host = host;
    this.log = log;
    this.snapshots = new SnapshotReceiver(host, log);
    this.maxFrameBytes = maxFrameBytes;
    this.observe = observe;
  }

  /** GET /members, POST /raft with a stream of frames of messages, POST /raft/snapshot. */
  handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    if (request.method === 'GET' && request.url === MEMBERS_PATH) {
      const body = `${encodePeerMembers(this.host.memberList())}\n`;
      response.writeHead(200, { 'content-type': 'application/json', 'x-etcd-cluster-id': formatId(this.host.clusterId), 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    const snapshotRequest = request.method === 'POST' && request.url === SNAPSHOT_PATH;
    if (request.method !== 'POST' || (request.url !== RAFT_PATH && !snapshotRequest)) return answerText(response, 404, '404 page not found');
    const cluster = request.headers['x-etcd-cluster-id'];
    // Compared as numbers: earlier kvd versions printed ids zero-padded, and their members send them so.
    if (typeof cluster !== 'string' || parseId(cluster) !== this.host.clusterId) {
      this.warnOtherCluster(request.headers['x-server-from'], cluster);
      return answerText(response, 412, 'cluster ID mismatch');
    }
    const from = parseId(String(request.headers['x-server-from'] ?? ''));
    if (from === undefined) {
      request.resume();
      return answerText(response, 400, 'x-server-from: not a member id');
    }
    if (this.host.isRemoved(from)) {
      request.resume();
      return answerText(response, 410, REMOVED);
    }
    // The sender's peer URLs (etcd's X-PeerURLs): how a member not yet known here is answered.
    const urls = String(request.headers['x-peerurls'] ?? '').split(',').filter((url) => url !== '');
    if (snapshotRequest) return void this.snapshots.receive(request, response, from, this.host.admits(from, urls), (messages) => this.deliver(from, urls, messages));
    this.readFrames(request, response, from, urls);
  }

  /** A stream of frames, each a u32 length and that many bytes; messages are delivered as their frame completes. */
  private readFrames(request: http.IncomingMessage, response: http.ServerResponse, from: NodeId, urls: readonly string[]): void {
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
      if (!response.headersSent) answerText(response, 400, reason, { connection: 'close' });
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
          return answerText(response, 410, REMOVED);
        }
        let messages: Message[];
        try {
          messages = decodeMessages(frame);
          for (const m of messages) checkStreamed(m);
        } catch (error) {
          return refuse((error as Error).message);
        }
        this.deliver(from, urls, messages);
      }
    });
    request.on('end', () => {
      if (!response.headersSent) response.writeHead(204).end();
    });
  }

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

  /**
   * Hands the messages meant for this member to it: only from the member the stream is from, and
   * only while the host admits that one (a member, or a sender added while this member was down;
   * a peer may say anything in a message: Raft must not hear it).
   */
  private deliver(from: NodeId, urls: readonly string[], messages: readonly Message[]): void {
    const mine = messages.filter((m) => m.to === this.host.id && m.from === from && plausible(this.host, m));
    if (mine.length < messages.length) this.log.warn('dropped peer messages that are not from their sender, not for this member, or impossible', { from: formatId(from), dropped: messages.length - mine.length });
    if (mine.length === 0) return;
    if (!this.host.admits(from, urls)) {
      this.log.debug('dropped peer messages from a non-member', { from: formatId(from) });
      return;
    }
    for (const m of mine) {
      if (m.type === 'app') this.receivedAppends++;
      this.observe(m);
    }
    this.host.receive(mine);
  }
}

/**
 * Whether a message could come from a correct member, as far as this member's own state tells.
 * An append answer for entries this member never had would move a follower's progress past
 * its log: the leader then looks for entries that do not exist and its Raft core throws.
 */
export function plausible(host: Pick<TransportHost, 'term' | 'lastIndex'>, m: Message): boolean {
  if (m.term > SOFT_TERM_LIMIT && m.term > host.term + TERM_STEP) return false;
  return m.type !== 'appResp' || m.index <= host.lastIndex;
}

/** A plain-text answer of one line. */
function answerText(response: http.ServerResponse, status: number, text: string, headers: http.OutgoingHttpHeaders = {}): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${text}\n`);
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
