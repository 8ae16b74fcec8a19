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

/** The payload of a chunked body (as far as it came). */
function unchunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const sizeEnd = raw.indexOf('\r\n', at);
    const size = sizeEnd < 0 ? 0 : Number.parseInt(raw.toString('latin1', at, sizeEnd), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(raw.subarray(sizeEnd + 2, sizeEnd + 2 + size));
    at = sizeEnd + 4 + size;
  }
}
