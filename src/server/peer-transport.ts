import type http from 'node:http';
import type { Message, NodeId } from '../raft/types.ts';
import type { Logger } from './logger.ts';
import { Outbound } from './outbound.ts';
import { PeerListener } from './peer-listener.ts';
import { maxFrameBytesFor } from './peer-protocol.ts';
import { PeerSender } from './peer-sender.ts';
import type { PeerStats } from './peer-stats.ts';
import type { TransportHost } from './transport-host.ts';


/**
 * Raft messages between members over HTTP keep-alive connections: the sending side (streams of
 * frames, snapshots on requests of their own) and the peer listener's side, which checks
 * everything a peer sends before Raft hears it.
 */
export class PeerTransport {
  private readonly sender: PeerSender;
  private readonly listener: PeerListener;

  constructor(host: TransportHost, log: Logger, outbound: Outbound = new Outbound(undefined, 4), maxFrameBytes = maxFrameBytesFor(1.5 * 1024 * 1024)) {
    this.sender = new PeerSender(host, log, outbound);
    this.listener = new PeerListener(host, log, maxFrameBytes, (m) => this.sender.observe(m));
  }

  send(messages: readonly Message[]): void {
    this.sender.send(messages);
  }

  /** The peer listener's request handler. */
  handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    this.listener.handle(request, response);
  }

  /** Round trips to each peer, for /v2/stats/leader. */
  get peerStats(): ReadonlyMap<NodeId, PeerStats> {
    return this.sender.roundTrips.stats;
  }

  /** Append messages sent and received, for /v2/stats/self. */
  get sentAppends(): number {
    return this.sender.sentAppends;
  }

  get receivedAppends(): number {
    return this.listener.receivedAppends;
  }

  close(): void {
    this.sender.close();
  }
}
