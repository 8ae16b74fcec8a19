import net from 'node:net';

/** An answer read off a raw socket: the status, the header lines as sent, and the body bytes. */
export interface RawAnswer {
  readonly status: number;
  /** Each header line as it came, split on CRLF only (so a raw LF or NUL inside a line stays visible). */
  readonly headerLines: readonly string[];
  readonly body: Buffer;
  /** Everything the server sent, as bytes. */
  readonly bytes: Buffer;
}

/**
 * Sends `head` (and `body`) as they are over a new connection to `url`'s host and port, and reads
 * until the server closes it (send `Connection: close`). `status` is 0 when it closed without an
 * answer. A request line that Node's HTTP client would refuse to send goes out unchanged.
 */
export function rawExchange(url: string, head: Buffer | string, body: Buffer | string = '', timeoutMs = 10_000): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(Buffer.concat([Buffer.from(head), Buffer.from(body)])));
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no end of answer after ${timeoutMs} ms`)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
    socket.on('close', () => resolve(parse(Buffer.concat(chunks))));
  });
}

/** A GET (or other method) of `target` exactly as given, with Host and Connection: close. */
export function rawRequest(url: string, method: string, target: Buffer | string): Promise<RawAnswer> {
  const head = Buffer.concat([Buffer.from(`${method} `), Buffer.from(target), Buffer.from(` HTTP/1.1\r\nHost: ${new URL(url).host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)]);
  return rawExchange(url, head);
}

function parse(bytes: Buffer): RawAnswer {
  const end = bytes.indexOf('\r\n\r\n');
  const head = bytes.toString('latin1', 0, end < 0 ? bytes.length : end);
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const raw = end < 0 ? Buffer.alloc(0) : bytes.subarray(end + 4);
  const chunked = headerLines.some((line) => /^transfer-encoding:\s*chunked\s*$/i.test(line));
  return { status, headerLines, body: chunked ? unchunk(raw) : raw, bytes };
}

/** The payload of a chunked body (its whole chunks, as far as they came). */
function unchunk(raw: Buffer): Buffer {
  return Buffer.concat(chunksOf(raw).chunks);
}

/** The whole chunks of a chunked body (what follows the head), and whether the zero-size chunk that ends it came. */
export function chunksOf(body: Buffer): { chunks: Buffer[]; terminated: boolean } {
  const chunks: Buffer[] = [];
  for (let at = 0; ;) {
    const sizeEnd = body.indexOf('\r\n', at);
    if (sizeEnd < 0) return { chunks, terminated: false };
    const size = Number.parseInt(body.toString('latin1', at, sizeEnd), 16);
    if (size === 0) return { chunks, terminated: true };
    if (!(size > 0) || sizeEnd + 2 + size + 2 > body.length) return { chunks, terminated: false };
    chunks.push(body.subarray(sizeEnd + 2, sizeEnd + 2 + size));
    at = sizeEnd + 2 + size + 2;
  }
}

/** What follows the head of an answer (empty while the head has not all come). */
export function bodyOf(bytes: Buffer): Buffer {
  const end = bytes.indexOf('\r\n\r\n');
  return end < 0 ? Buffer.alloc(0) : bytes.subarray(end + 4);
}

/** A connection that sent one request and keeps every byte it is sent, read while the test goes on. */
export interface RawConnection {
  readonly socket: net.Socket;
  /** Everything received so far. */
  received(): Buffer;
  closed(): boolean;
  /** Resolves once the answer's head has come (with `pauseAfterHead`, the socket has stopped reading then). */
  readonly head: Promise<void>;
  /** Resolves once the connection has closed. */
  readonly ended: Promise<void>;
}

/**
 * Opens a connection to `url`'s host and port and sends `request` as it is. With `pauseAfterHead`,
 * it stops reading once the head has come (a client that does not read its answer: resume the
 * socket to read on).
 */
export function rawConnection(url: string, request: string, options: { pauseAfterHead?: boolean } = {}): RawConnection {
  const { hostname, port } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port) });
  let received = Buffer.alloc(0);
  let closed = false;
  let headCame: () => void = () => undefined;
  const head = new Promise<void>((resolve) => (headCame = resolve));
  socket.on('data', (data: Buffer) => {
    const before = received.includes('\r\n\r\n');
    received = Buffer.concat([received, data]);
    if (!before && received.includes('\r\n\r\n')) {
      if (options.pauseAfterHead) socket.pause();
      headCame();
    }
  });
  socket.on('error', () => undefined); // a reset is how some tests end; what came is in `received`
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve(void (closed = true))));
  socket.write(request);
  return { socket, received: () => received, closed: () => closed, head, ended };
}
