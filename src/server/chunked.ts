import type http from 'node:http';
import type net from 'node:net';

/**
 * One chunk of a chunked HTTP/1.1 body in one buffer: the size line, `head` (if any) and `body`,
 * CRLF. Written with one socket write, where the HTTP layer frames each write itself (a size
 * line, the data and CRLF: three buffers to writev, after corking the socket for a tick).
 */
export function chunkOf(body: string | Uint8Array, head?: Uint8Array): Buffer {
  const bodyBytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const size = (head?.length ?? 0) + bodyBytes;
  const sizeLine = `${size.toString(16)}\r\n`;
  const chunk = Buffer.allocUnsafe(sizeLine.length + size + 2);
  let at = chunk.write(sizeLine, 0, 'latin1');
  if (head !== undefined) {
    chunk.set(head, at);
    at += head.length;
  }
  if (typeof body === 'string') chunk.write(body, at, 'utf8');
  else chunk.set(body, at);
  chunk.write('\r\n', at + bodyBytes, 'latin1');
  return chunk;
}

/**
 * The socket under an outgoing message (a response, or a request with a streamed body) that its
 * chunks may be written to directly: its headers are out, its body is chunked, nothing of it is
 * still buffered anywhere (so a direct write cannot overtake it), and the socket is open.
 * Otherwise undefined: write through the message, which frames and orders for itself.
 */
export function directSocket(message: http.OutgoingMessage): net.Socket | undefined {
  const socket = message.socket;
  if (socket === null || socket.destroyed || !socket.writable) return undefined;
  if (!message.headersSent || !message.chunkedEncoding || message.writableLength !== 0) return undefined;
  return socket;
}
