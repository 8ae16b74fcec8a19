import http from 'node:http';
import net from 'node:net';
import type { Message } from '../../src/raft/types.ts';
import { formatId } from '../../src/server/member-id.ts';
import { encodeMessages } from '../../src/server/peer-codec.ts';

/** What a peer needs to know to speak to a member: read from its client API, as anyone can. */
export interface PeerIdentity {
  /** The cluster id, 16 hex digits, as the x-etcd-cluster-id header carries it. */
  readonly clusterId: string;
  /** The member's own id. */
  readonly id: number;
  /** The leader the member knows (0: none). */
  readonly leader: number;
  /** Every member's id by name. */
  readonly members: ReadonlyMap<string, number>;
}

function getJson(url: string): Promise<{ headers: http.IncomingHttpHeaders; body: unknown }> {
  return new Promise((resolve, reject) => {
    http.get(url, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ headers: response.headers, body: JSON.parse(text) }));
    }).on('error', reject);
  });
}

/** GET /v2/members and /v2/stats/self on a member's client URL. */
export async function peerIdentity(clientUrl: string): Promise<PeerIdentity> {
  const members = await getJson(new URL('/v2/members', clientUrl).href);
  const self = (await getJson(new URL('/v2/stats/self', clientUrl).href)).body as { id: string; leaderInfo: { leader: string } };
  const list = (members.body as { members: Array<{ id: string; name: string }> }).members;
  return {
    clusterId: String(members.headers['x-etcd-cluster-id']),
    id: parseInt(self.id, 16),
    leader: parseInt(self.leaderInfo.leader, 16),
    members: new Map(list.map((m) => [m.name, parseInt(m.id, 16)])),
  };
}

/** A frame as the transport writes it: u32be length, then the bytes. */
export function framed(bytes: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** How a raw request ended: the status the member answered (if any) once the connection closed. */
export interface RawOutcome {
  readonly status: number | undefined;
  readonly answer: string;
}

/**
 * A POST /raft stream spoken byte by byte over a plain TCP socket (chunked body), so that a test
 * can send what the project's own transport never would: frames of any content, lengths that lie,
 * bytes split anywhere. `outcome` resolves when the member closes the connection (or it ends).
 */
export class RawPeerStream {
  private readonly socket: net.Socket;
  private received = '';
  readonly outcome: Promise<RawOutcome>;
  /** Whether the socket has closed. */
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => (this.received += text));
    socket.on('error', () => undefined);
    this.outcome = new Promise((resolve) => {
      socket.once('close', () => {
        this.closed = true;
        const match = /^HTTP\/1\.1 (\d{3})/.exec(this.received);
        resolve({ status: match ? Number(match[1]) : undefined, answer: this.received });
      });
    });
  }

  /** Opens a stream to `peerUrl` that says it is member `from` of cluster `clusterId`. */
  static open(peerUrl: string, clusterId: string, from: number, path = '/raft'): Promise<RawPeerStream> {
    const url = new URL(peerUrl);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => {
        socket.write(`POST ${path} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/octet-stream\r\nx-etcd-cluster-id: ${clusterId}\r\nx-server-from: ${formatId(from)}\r\ntransfer-encoding: chunked\r\n\r\n`);
        resolve(new RawPeerStream(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Sends messages as one frame, encoded by the project's codec (which writes any number as given). */
  send(messages: readonly Message[]): void {
    this.write(framed(encodeMessages(messages)));
  }

  /** Writes bytes of the body as one chunk. */
  write(bytes: Uint8Array): boolean {
    if (bytes.length === 0) return true;
    return this.socket.write(Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]));
  }

  /** Waits until the socket can take more. */
  drained(): Promise<void> {
    return this.socket.writableNeedDrain ? new Promise((resolve) => this.socket.once('drain', resolve)) : Promise.resolve();
  }

  /** Ends the body; the member answers and the outcome resolves when the connection closes. */
  end(): Promise<RawOutcome> {
    this.socket.end('0\r\n\r\n');
    return this.outcome;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** POST /raft/snapshot: a frame with the snap message (its data left out), then the data. */
export function postSnapshot(peerUrl: string, clusterId: string, from: number, snap: Message, data: Uint8Array): Promise<RawOutcome> {
  const head = encodeMessages([{ ...snap, snapshot: { meta: snap.snapshot!.meta, data: new Uint8Array(0) } }]);
  const body = Buffer.concat([framed(head), data]);
  return new Promise((resolve, reject) => {
    const request = http.request(new URL('/raft/snapshot', peerUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-length': body.length, 'x-etcd-cluster-id': clusterId, 'x-server-from': formatId(from) },
    });
    request.on('response', (response) => {
      let answer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (answer += chunk));
      response.on('end', () => resolve({ status: response.statusCode, answer }));
    });
    request.on('error', reject);
    request.end(body);
  });
}
