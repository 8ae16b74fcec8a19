import http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import type { ClientTls } from './http-transport.ts';

/**
 * Loaded on the first https:// request, not at start-up: every kvctl command outside the quick
 * path loads this module (through the bench command's module), and TLS costs ~15 ms to load.
 */
function httpsModule(): typeof https {
  return process.getBuiltinModule('node:https');
}

/** Latency percentiles in milliseconds. */
export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface BenchResult {
  readonly workload: string;
  readonly clients: number;
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  readonly latencyMs: Percentiles;
  /** Failed requests by kind: an HTTP status with etcd's error code, or a network error code. */
  readonly errors: Record<string, number>;
  /** CPU this generator used per request (user + system), to show it was not the bottleneck. */
  readonly generatorCpuMicrosPerOp: number;
  /** Generator CPU time over wall time (1.0 = one core busy). */
  readonly generatorCpuShare: number;
}

export interface WatchBenchResult {
  readonly workload: 'watch';
  readonly watchers: number;
  readonly mode: 'stream' | 'poll';
  readonly events: number;
  readonly deliveries: number;
  /** From sending the write to a watcher receiving its event. */
  readonly deliveryLatencyMs: Percentiles;
  readonly missed: number;
  readonly duplicated: number;
  readonly errors: Record<string, number>;
  readonly generatorCpuShare: number;
}

/** Collects latencies (ms) in growing typed-array chunks: no object per sample. */
export class LatencyLog {
  private chunks: Float64Array[] = [new Float64Array(65536)];
  private used = 0;
  count = 0;

  add(ms: number): void {
    let chunk = this.chunks[this.chunks.length - 1]!;
    if (this.used === chunk.length) {
      chunk = new Float64Array(chunk.length * 2);
      this.chunks.push(chunk);
      this.used = 0;
    }
    chunk[this.used++] = ms;
    this.count++;
  }

  percentiles(): Percentiles {
    const all = new Float64Array(this.count);
    let at = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      const length = i === this.chunks.length - 1 ? this.used : chunk.length;
      all.set(chunk.subarray(0, length), at);
      at += length;
    }
    all.sort();
    const pick = (q: number) => (all.length === 0 ? 0 : round(all[Math.min(all.length - 1, Math.ceil(q * all.length) - 1)]!));
    return { p50: pick(0.5), p90: pick(0.9), p99: pick(0.99), p999: pick(0.999), max: all.length === 0 ? 0 : round(all[all.length - 1]!) };
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

interface Reply {
  readonly status: number;
  readonly body: string;
}

/** Keep-alive HTTP to the endpoints, as lean as Node allows: one agent per endpoint, no retries. */
export class BenchHttp {
  private readonly agents = new Map<string, http.Agent>();
  private readonly tls: ClientTls | undefined;
  private readonly authorization: string | undefined;

  constructor(tls?: ClientTls, authorization?: string) {
    this.tls = tls;
    this.authorization = authorization;
  }

  private agentFor(url: URL): http.Agent {
    let agent = this.agents.get(url.origin);
    if (agent === undefined) {
      agent = url.protocol === 'https:'
        ? new (httpsModule().Agent)({ keepAlive: true, maxSockets: Infinity, ...(this.tls?.ca ? { ca: this.tls.ca } : {}), ...(this.tls?.cert ? { cert: this.tls.cert, key: this.tls.key } : {}), rejectUnauthorized: this.tls?.verify ?? true })
        : new http.Agent({ keepAlive: true, maxSockets: Infinity });
      this.agents.set(url.origin, agent);
    }
    return agent;
  }

  send(endpoint: string, method: string, path: string, body?: string): Promise<Reply> {
    const url = new URL(path, endpoint);
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) };
      if (this.authorization !== undefined) headers.authorization = this.authorization;
      const request = (url.protocol === 'https:' ? httpsModule() : http).request(url, { method, headers, agent: this.agentFor(url) }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(body);
    });
  }

  /** Opens a streaming response; `onLine` gets each line of the body. Resolves once the headers arrived. */
  stream(endpoint: string, path: string, onLine: (line: string) => void, onEnd: (error?: Error) => void): Promise<http.ClientRequest> {
    const url = new URL(path, endpoint);
    return new Promise((resolve, reject) => {
      const request = (url.protocol === 'https:' ? httpsModule() : http).request(url, { method: 'GET', agent: this.agentFor(url) }, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          return reject(new Error(`HTTP ${response.statusCode}`));
        }
        let pending = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          pending += chunk;
          for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
            onLine(pending.slice(0, newline));
            pending = pending.slice(newline + 1);
          }
        });
        response.on('end', () => onEnd());
        response.on('error', (error) => onEnd(error));
        resolve(request);
      });
      request.on('error', (error) => {
        reject(error);
        onEnd(error);
      });
      request.end();
    });
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
  }
}

/**
 * One keep-alive HTTP/1.1 connection with a minimal client: the request is written as one string
 * and the reply parsed from the raw bytes (Content-Length or chunked). A fraction of Node's
 * http client's CPU per request, so that the generator is not what limits the measurement.
 */
export class RawConnection {
  private readonly host: string;
  private readonly port: number;
  private socket: net.Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined;

  private readonly authorization: string;

  constructor(endpoint: string, authorization?: string) {
    const url = new URL(endpoint);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
    this.authorization = authorization === undefined ? '' : `Authorization: ${authorization}\r\n`;
  }

  request(method: string, path: string, body?: string): Promise<Reply> {
    const socket = this.socket ?? this.connect();
    const head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n${this.authorization}${body === undefined ? '' : `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`}\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      socket.write(body === undefined ? head : head + body);
    });
  }

  private connect(): net.Socket {
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      try {
        this.parse();
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    // A socket's 'close' follows its 'error', and may come after the next request opened a new
    // socket: only the current socket's end fails the request waiting on it.
    const fail = (error: Error): void => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.buffer = Buffer.alloc(0);
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.reject(error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(Object.assign(new Error('connection closed'), { code: 'ECONNRESET' })));
    this.socket = socket;
    return socket;
  }

  private parse(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || this.waiting === undefined) return;
    const head = this.buffer.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    let body: string;
    let consumed: number;
    if (length !== null) {
      consumed = end + 4 + Number(length[1]);
      if (this.buffer.length < consumed) return;
      body = this.buffer.toString('utf8', end + 4, consumed);
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      const parts: string[] = [];
      let at = end + 4;
      for (;;) {
        const chunk = readChunk(this.buffer, at);
        if (chunk === undefined) return;
        at = chunk.next;
        if (chunk.last) break;
        parts.push(chunk.text);
      }
      consumed = at;
      body = parts.join('');
    } else {
      body = '';
      consumed = end + 4;
    }
    this.buffer = this.buffer.subarray(consumed);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting.resolve({ status, body });
  }

  close(): void {
    this.socket?.destroy();
  }
}

/**
 * A streaming GET over a raw socket (plain HTTP), for watchers by the thousand: the chunked body
 * is split into lines for `onLine` with far less CPU per event than Node's http client. Resolves
 * once a 200's headers arrived; `onEnd` is called once, when the stream ends or fails.
 */
export function rawStream(endpoint: string, path: string, onLine: (line: string) => void, onEnd: (error?: Error) => void): Promise<{ destroy(): void }> {
  const url = new URL(endpoint);
  const host = url.hostname;
  const port = Number(url.port || 80);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    let buffer: Buffer = Buffer.alloc(0);
    let chunked: boolean | undefined;
    let pending = '';
    let ended = false;
    const end = (error?: Error): void => {
      if (ended) return;
      ended = true;
      reject(error ?? new Error('stream closed before its headers'));
      onEnd(error);
    };
    const take = (text: string): void => {
      pending += text;
      for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
        onLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    };
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`));
    socket.on('data', (data: Buffer) => {
      buffer = buffer.length === 0 ? data : Buffer.concat([buffer, data]);
      if (chunked === undefined) {
        const headEnd = buffer.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = buffer.toString('latin1', 0, headEnd);
        const status = Number(head.slice(9, 12));
        if (status !== 200) {
          socket.destroy();
          end(new Error(`HTTP ${status}`));
          return;
        }
        chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
        buffer = buffer.subarray(headEnd + 4);
        resolve({ destroy: () => socket.destroy() });
      }
      if (!chunked) {
        take(buffer.toString('utf8'));
        buffer = Buffer.alloc(0);
        return;
      }
      try {
        for (let chunk = readChunk(buffer, 0); chunk !== undefined; chunk = readChunk(buffer, 0)) {
          buffer = buffer.subarray(chunk.next);
          if (chunk.last) {
            socket.end();
            end();
            return;
          }
          take(chunk.text);
        }
      } catch (error) {
        socket.destroy();
        end(error as Error);
      }
    });
    socket.on('error', (error) => end(error));
    socket.on('close', () => end());
  });
}

/**
 * The chunk of a chunked HTTP body at `at` in `buffer`: its text, where the next one starts, and
 * whether it is the last (zero-size) one; undefined while it has not all arrived. Throws on a
 * malformed size line.
 */
function readChunk(buffer: Buffer, at: number): { text: string; next: number; last: boolean } | undefined {
  const lineEnd = buffer.indexOf('\r\n', at);
  if (lineEnd < 0) return undefined;
  const size = parseInt(buffer.toString('latin1', at, lineEnd), 16);
  if (!Number.isFinite(size)) throw new Error('malformed chunked body');
  const next = lineEnd + 2 + size + 2;
  if (buffer.length < next) return undefined;
  return { text: buffer.toString('utf8', lineEnd + 2, lineEnd + 2 + size), next, last: size === 0 };
}

/** The kind of a failed reply: `412 (101)` from etcd's error code, or the network error's code. */
function errorKind(reply: Reply | undefined, error: unknown): string {
  if (reply === undefined) return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  const code = /"errorCode":(\d+)/.exec(reply.body)?.[1];
  return code === undefined ? `HTTP ${reply.status}` : `HTTP ${reply.status} (${code})`;
}

export interface LoadOptions {
  readonly endpoints: readonly string[];
  readonly clients: number;
  /** Stop after this many requests... */
  readonly total?: number;
  /** ...or after this long. */
  readonly durationMs?: number;
  /** Called about once a second with the requests done so far. */
  readonly progress?: (done: number, elapsedMs: number) => void;
  readonly tls?: ClientTls;
  /** HTTP Basic credentials (kvctl --user), for a cluster with auth enabled. */
  readonly authorization?: string;
  /** How long after the duration a request still unanswered is given up (default 10 s). */
  readonly graceMs?: number;
}

/** After a failed connection or request, a client waits this long, doubled each time up to MAX_RETRY_MS. */
const FIRST_RETRY_MS = 5;
const MAX_RETRY_MS = 500;

/** A client's wait before it tries again after a failure, so that an endpoint down is not hammered. */
class Backoff {
  private ms = FIRST_RETRY_MS;

  async wait(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.ms));
    this.ms = Math.min(2 * this.ms, MAX_RETRY_MS);
  }

  reset(): void {
    this.ms = FIRST_RETRY_MS;
  }
}

/**
 * Runs `clients` concurrent request loops (each a keep-alive connection to one endpoint, spread
 * round-robin) until `total` requests or `durationMs`; `request(i)` describes the i-th request.
 */
export async function runLoad(workload: string, options: LoadOptions, request: (i: number) => { method: string; path: string; body?: string; ok: (status: number) => boolean }): Promise<BenchResult> {
  const conn = new BenchHttp(options.tls, options.authorization);
  const latencies = new LatencyLog();
  const errors: Record<string, number> = {};
  let issued = 0;
  let done = 0;
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const deadline = options.durationMs === undefined ? Infinity : started + options.durationMs;
  const more = () => (options.total === undefined || issued < options.total) && performance.now() < deadline;
  const ticker = setInterval(() => options.progress?.(done, performance.now() - started), 1000);
  const raws: Array<RawConnection | undefined> = [];
  // A request a server never answers would hold its loop, and the run, forever: past the grace,
  // the connections close and such requests fail.
  const cutoff = options.durationMs === undefined ? undefined : setTimeout(() => {
    for (const raw of raws) raw?.close();
    conn.close();
  }, options.durationMs + (options.graceMs ?? 10_000));
  try {
    await Promise.all(
      Array.from({ length: options.clients }, async (_, c) => {
        const endpoint = options.endpoints[c % options.endpoints.length]!;
        // Plain HTTP takes the lean client; TLS goes through Node's.
        const raw = endpoint.startsWith('http:') ? new RawConnection(endpoint, options.authorization) : undefined;
        raws.push(raw);
        const backoff = new Backoff();
        while (more()) {
          const spec = request(issued++);
          const sent = performance.now();
          let reply: Reply | undefined;
          try {
            reply = raw !== undefined ? await raw.request(spec.method, spec.path, spec.body) : await conn.send(endpoint, spec.method, spec.path, spec.body);
          } catch (error) {
            const kind = errorKind(undefined, error);
            errors[kind] = (errors[kind] ?? 0) + 1;
            await backoff.wait();
            continue;
          }
          backoff.reset();
          done++;
          if (spec.ok(reply.status)) latencies.add(performance.now() - sent);
          else {
            const kind = errorKind(reply, undefined);
            errors[kind] = (errors[kind] ?? 0) + 1;
          }
        }
      }),
    );
  } finally {
    clearInterval(ticker);
    clearTimeout(cutoff);
    for (const raw of raws) raw?.close();
    conn.close();
  }
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const ops = latencies.count;
  return {
    workload,
    clients: options.clients,
    ops,
    seconds: round(elapsedMs / 1000),
    opsPerSecond: Math.round(ops / (elapsedMs / 1000)),
    latencyMs: latencies.percentiles(),
    errors,
    generatorCpuMicrosPerOp: done === 0 ? 0 : Math.round((cpu.user + cpu.system) / done),
    generatorCpuShare: round((cpu.user + cpu.system) / 1000 / elapsedMs),
  };
}

/** A deterministic value of `size` bytes (form-encoded once, reused for every put). */
export function valueBody(size: number): string {
  return `value=${'x'.repeat(size)}`;
}

/** Spreads i over the key space with a multiplicative hash: every key is hit, in no simple order. */
export function keyFor(i: number, keySpace: number, sequential: boolean): number {
  return sequential ? i % keySpace : Math.floor(((i * 2654435761) % 4294967296) / 4294967296 * keySpace);
}

export interface WatchLoadOptions {
  readonly endpoints: readonly string[];
  readonly watchers: number;
  readonly mode: 'stream' | 'poll';
  readonly events: number;
  /** Writes per second. */
  readonly rate: number;
  readonly prefix: string;
  readonly progress?: (message: string) => void;
  readonly tls?: ClientTls;
}

/**
 * W watchers on a prefix (streams, or long polls re-armed at the next index), a writer at a fixed
 * rate; every watcher must see every write exactly once. Delivery latency is from sending the
 * write to a watcher parsing its event.
 */
export async function runWatchLoad(options: WatchLoadOptions): Promise<WatchBenchResult> {
  const conn = new BenchHttp(options.tls);
  const errors: Record<string, number> = {};
  const count = (kind: string) => (errors[kind] = (errors[kind] ?? 0) + 1);
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const latencies = new LatencyLog();
  // Per watcher, the modified indexes it saw: to count missed and duplicated events.
  const seen = Array.from({ length: options.watchers }, () => new Map<number, number>());
  const sentAt = new Map<number, number>();
  const keyOfIndex = new Map<number, number>();
  const dir = `/v2/keys${options.prefix}`;
  const start = await conn.send(options.endpoints[0]!, 'PUT', `${dir}/start`, 'value=0');
  const startIndex = Number(/"modifiedIndex":(\d+)/.exec(start.body)?.[1] ?? 0);
  let deliveries = 0;
  const record = (w: number, line: string): number | undefined => {
    const received = performance.now();
    const index = Number(/"modifiedIndex":(\d+)/.exec(line)?.[1]);
    if (!Number.isFinite(index)) return undefined;
    const mine = seen[w]!;
    mine.set(index, (mine.get(index) ?? 0) + 1);
    deliveries++;
    const sent = sentAt.get(Number(/"key":"[^"]*\/k(\d+)"/.exec(line)?.[1]));
    if (sent !== undefined) latencies.add(received - sent);
    return index;
  };
  const streams: Array<{ destroy(): void }> = [];
  let stopPolling = false;
  const polls: Promise<void>[] = [];
  const rawPolls: Array<RawConnection | undefined> = [];
  const connectBatch = 200;
  for (let w = 0; w < options.watchers; w += connectBatch) {
    await Promise.all(
      Array.from({ length: Math.min(connectBatch, options.watchers - w) }, async (_, j) => {
        const watcher = w + j;
        const endpoint = options.endpoints[watcher % options.endpoints.length]!;
        if (options.mode === 'stream') {
          try {
            const path = `${dir}?wait=true&recursive=true&stream=true&waitIndex=${startIndex + 1}`;
            const onEnd = (error?: Error) => error && !stopPolling && count(`stream: ${(error as NodeJS.ErrnoException).code ?? error.message}`);
            const open = endpoint.startsWith('http:') ? rawStream : conn.stream.bind(conn);
            streams.push(await open(endpoint, path, (line) => void record(watcher, line), onEnd));
          } catch (error) {
            count(`connect: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
          }
          return;
        }
        polls.push((async () => {
          let next = startIndex + 1;
          // Plain HTTP takes the lean client (thousands of re-arms a second), TLS Node's.
          const raw = endpoint.startsWith('http:') ? new RawConnection(endpoint) : undefined;
          rawPolls.push(raw);
          const poll = (path: string) => (raw !== undefined ? raw.request('GET', path) : conn.send(endpoint, 'GET', path));
          const backoff = new Backoff();
          while (!stopPolling) {
            try {
              const reply = await poll(`${dir}?wait=true&recursive=true&waitIndex=${next}`);
              if (reply.status !== 200) {
                count(errorKind(reply, undefined));
                await backoff.wait();
                continue;
              }
              backoff.reset();
              const index = record(watcher, reply.body);
              if (index !== undefined) next = index + 1;
            } catch (error) {
              if (stopPolling) break;
              count(errorKind(undefined, error));
              await backoff.wait();
            }
          }
        })());
      }),
    );
    options.progress?.(`${Math.min(options.watchers, w + connectBatch)} watchers connected`);
  }
  // Let the last long polls reach the server before writing.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const intervalMs = 1000 / options.rate;
  // Connections of its own, opened now: one kept alive from the first write through the watchers'
  // connecting (seconds, for thousands) would be closed by the server as idle just as it is reused.
  const writer = new BenchHttp(options.tls);
  const writerStart = performance.now();
  for (let i = 0; i < options.events; i++) {
    const due = writerStart + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    sentAt.set(i, performance.now());
    try {
      const reply = await writer.send(options.endpoints[i % options.endpoints.length]!, 'PUT', `${dir}/k${i}`, `value=${i}`);
      const index = Number(/"modifiedIndex":(\d+)/.exec(reply.body)?.[1]);
      if (reply.status >= 300 || !Number.isFinite(index)) count(errorKind(reply, undefined));
      else keyOfIndex.set(index, i);
    } catch (error) {
      count(`write: ${errorKind(undefined, error)}`);
    }
    if (i % Math.max(1, Math.round(options.rate)) === 0) options.progress?.(`${i} events written, ${deliveries} delivered`);
  }
  // Give the last deliveries time to arrive.
  const expected = keyOfIndex.size * options.watchers;
  const settle = performance.now() + 10_000;
  while (deliveries < expected && performance.now() < settle) await new Promise((resolve) => setTimeout(resolve, 50));
  stopPolling = true;
  for (const stream of streams) stream.destroy();
  for (const raw of rawPolls) raw?.close();
  writer.close();
  conn.close();
  await Promise.allSettled(polls);
  let missed = 0;
  let duplicated = 0;
  for (const mine of seen) {
    for (const index of keyOfIndex.keys()) if (!mine.has(index)) missed++;
    for (const times of mine.values()) if (times > 1) duplicated += times - 1;
  }
  const cpu = process.cpuUsage(cpuStart);
  return {
    workload: 'watch',
    watchers: options.watchers,
    mode: options.mode,
    events: keyOfIndex.size,
    deliveries,
    deliveryLatencyMs: latencies.percentiles(),
    missed,
    duplicated,
    errors,
    generatorCpuShare: round((cpu.user + cpu.system) / 1000 / (performance.now() - wallStart)),
  };
}
