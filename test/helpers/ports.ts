import { readFileSync } from 'node:fs';
import net from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. It is chosen below the kernel's range of
 * ephemeral ports: a port from that range (what listen(0) gives) can be taken, between the test
 * choosing it and a member listening on it, as the source port of any outgoing connection, which
 * made a cluster test fail with "address already in use". No port is handed out twice.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; low - FIRST_PORT > 1000 && attempt < 100; attempt++) {
    const port = FIRST_PORT + Math.floor(Math.random() * (low - FIRST_PORT));
    if (handedOut.has(port)) continue;
    if ((await bind(port)) !== undefined) {
      handedOut.add(port);
      return port;
    }
  }
  const port = await bind(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

const FIRST_PORT = 10_000;
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (Linux's default when it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Listens on `port` (0: any) and closes again: the port, or undefined if it is taken. */
function bind(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.on('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : undefined));
    });
  });
}

/** Resolves once something accepts TCP connections on the port, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
