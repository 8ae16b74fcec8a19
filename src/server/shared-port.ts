import type http from 'node:http';
import type net from 'node:net';

/** The first byte of a TLS record that carries a handshake (a ClientHello opens every connection). */
const TLS_HANDSHAKE = 0x16;
/** A connection that sends nothing for this long is closed before it is given to either server. */
const FIRST_BYTE_TIMEOUT_MS = 10_000;

/**
 * etcd serves an http:// and an https:// URL that name the same host and port on one listener,
 * telling the two apart by the first byte a client sends. Node's servers take one scheme each, so
 * `listening` (which listens on the port) hands each connection, once its first bytes are in, to
 * its own HTTP(S) machinery or to `sibling` (the other scheme's server, which does not listen):
 * a TLS handshake goes to whichever of the two is the https one. Both keep their own settings.
 */
export function shareOnePort(listening: http.Server, sibling: http.Server, listeningIsTls: boolean): void {
  // The server's own protocol listener is the first one, added when it was made.
  const [own] = listening.listeners('connection') as Array<(socket: net.Socket) => void>;
  if (own === undefined) throw new Error('shareOnePort: the listening server has no connection listener');
  listening.off('connection', own);
  listening.on('connection', (socket: net.Socket) => {
    if (socket.destroyed) return;
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(first);
      const tls = first[0] === TLS_HANDSHAKE;
      if (tls === listeningIsTls) own.call(listening, socket);
      else sibling.emit('connection', socket);
      // The HTTP machinery reads in flowing mode; the TLS one reads what is buffered itself.
      if (!tls) socket.resume();
    });
  });
}
