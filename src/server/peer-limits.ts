import type http from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';

/** Connections the peer listener takes at once: a few per member is all a cluster uses. */
export const MAX_PEER_CONNECTIONS = 128;
/** How long a connection to the peer listener may take to send its request's headers. */
export const PEER_HEADERS_TIMEOUT_MS = 10_000;

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
