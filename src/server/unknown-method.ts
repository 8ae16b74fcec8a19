import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';

/** An HTTP token (RFC 9110), the request target, the version: a request line Go's server takes. */
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.[01]\r?\n/;

/** What Node's server answers a request it cannot parse, when no one listens for its errors. */
const NODE_DEFAULT_ANSWERS: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: '413 Payload Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * Requests with a method Node's parser does not know (`FOO /v2/keys/a`) go to `handler` as Go's
 * server lets them through to etcd's handlers, which answer 405 with `Allow` (or 404): Node's
 * parser refuses such a method before any handler sees it. The request line is read off the
 * bytes the parser refused; the request has no headers or body, and the connection closes after
 * the answer. Every other parse error is answered as Node answers it by default.
 */
export function passUnknownMethods(server: http.Server, handler: http.RequestListener): void {
  server.on('clientError', (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, duplex: Duplex) => {
    // The sockets of Node's HTTP(S) servers are net.Sockets (tls.TLSSocket is one).
    const socket = duplex as net.Socket;
    const line = error.code === 'HPE_INVALID_METHOD' ? REQUEST_LINE.exec(error.rawPacket?.toString('latin1') ?? '') : null;
    if (line === null || !socket.writable) return answerAsNode(error, socket);
    const req = new http.IncomingMessage(socket);
    req.method = line[1]!;
    req.url = line[2]!;
    req.push(null);
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.on('finish', () => socket.end());
    handler(req, res);
  });
}

function answerAsNode(error: NodeJS.ErrnoException, socket: net.Socket): void {
  const status = NODE_DEFAULT_ANSWERS[error.code ?? ''] ?? '400 Bad Request';
  // Node's own rule: answer unless a response on this connection has begun (its internal field).
  const inFlight = (socket as net.Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (socket.writable && (inFlight == null || !inFlight.headersSent)) socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  socket.destroy(error);
}
