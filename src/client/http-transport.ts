import http from 'node:http';
import type https from 'node:https';
import { neverSent } from '../api/network-errors.ts';
import { UnavailableError } from './errors.ts';

export interface TransportOptions {
  readonly endpoints: readonly string[];
  /** Per-attempt timeout in milliseconds. */
  readonly timeoutMs: number;
  /** Receives one line per attempt when set (kvctl --debug). */
  readonly debug?: (line: string) => void;
  /** For https:// endpoints: the CA to trust, and a client certificate to present. */
  readonly tls?: ClientTls;
  /** An Authorization header sent with every request (HTTP Basic credentials, when auth is on). */
  readonly authorization?: string;
}

export interface ClientTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** false only for testing: accept any server certificate. */
  readonly verify: boolean;
}

const UNKNOWN_CA = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT']);

/** A TLS failure in words that name the cause (and what to do), or undefined for other errors. */
export function describeTlsFailure(error: NodeJS.ErrnoException & { reason?: string }): string | undefined {
  const code = error.code ?? '';
  if (UNKNOWN_CA.has(code)) return `the server's certificate is signed by an unknown CA (${code}; give the CA with --cacert)`;
  if (code === 'CERT_HAS_EXPIRED') return 'the server\'s certificate has expired (CERT_HAS_EXPIRED)';
  if (code === 'CERT_NOT_YET_VALID') return 'the server\'s certificate is not valid yet (CERT_NOT_YET_VALID)';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `hostname mismatch: ${error.reason ?? error.message}`;
  if (/ALERT_CERTIFICATE_REQUIRED/.test(code)) return 'the server requires a client certificate (give --cert and --key)';
  if (/ALERT_UNKNOWN_CA|ALERT_BAD_CERTIFICATE|ALERT_CERTIFICATE_UNKNOWN/.test(code)) return `the server refused our client certificate (${code}): it is not signed by a CA the server trusts`;
  if (/ALERT_CERTIFICATE_EXPIRED/.test(code)) return 'the server refused our client certificate: it has expired';
  if (code === 'EPROTO' && /wrong version number|http request/i.test(error.message)) return 'the endpoint does not speak TLS (use http://)';
  return undefined;
}

export interface HttpRequest {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';
  readonly path: string;
  readonly query?: URLSearchParams;
  readonly form?: URLSearchParams;
  /** A raw body with its content type (instead of a form). */
  readonly body?: string;
  readonly contentType?: string;
  /**
   * Whether sending the request twice is harmless. A request that timed out after it was sent
   * may have been applied, so only idempotent requests move on to the next endpoint then.
   */
  readonly idempotent: boolean;
  /** Overrides the per-attempt timeout (a watch's long poll waits longer). */
  readonly timeoutMs?: number;
  /** Aborts the request: it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface HttpResponse {
  readonly endpoint: string;
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

type AttemptFailure = { readonly kind: 'not-sent' | 'maybe-sent'; readonly reason: string; readonly timedOut?: true };


/**
 * Sends HTTP requests to a list of endpoints, moving to the next one when an endpoint does not
 * answer. The endpoint that answered last is tried first next time.
 */
export class HttpTransport {
  private readonly options: TransportOptions;
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  /** Made on the first https:// request: loading TLS costs kvctl's start-up ~10 ms otherwise. */
  private httpsAgent: https.Agent | undefined;
  private preferred = 0;
  /** Requests sent to each endpoint so far (every attempt). */
  private readonly sent = new Map<string, number>();

  constructor(options: TransportOptions) {
    if (options.endpoints.length === 0) throw new RangeError('no endpoints given');
    this.options = options;
  }

  private httpsModule(): typeof https {
    return process.getBuiltinModule('node:https');
  }

  private httpsAgentFor(): https.Agent {
    const tls = this.options.tls;
    this.httpsAgent ??= new (this.httpsModule().Agent)({
      keepAlive: true,
      ...(tls?.ca ? { ca: tls.ca } : {}),
      ...(tls?.cert ? { cert: tls.cert } : {}),
      ...(tls?.key ? { key: tls.key } : {}),
      rejectUnauthorized: tls?.verify ?? true,
    });
    return this.httpsAgent;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const { endpoints } = this.options;
    const failures: string[] = [];
    let allTimedOut = true;
    for (let attempt = 0; attempt < endpoints.length; attempt++) {
      req.signal?.throwIfAborted();
      const index = (this.preferred + attempt) % endpoints.length;
      const endpoint = endpoints[index]!;
      const result = await this.attempt(endpoint, req);
      if ('status' in result) {
        this.preferred = index;
        return result;
      }
      failures.push(`${endpoint}: ${result.reason}`);
      allTimedOut &&= result.timedOut === true;
      if (result.kind === 'maybe-sent' && !req.idempotent) {
        throw new UnavailableError(
          `${endpoint}: ${result.reason}; the request may or may not have been applied`,
        );
      }
    }
    throw new UnavailableError(`no endpoint answered (${failures.join('; ')})`, { timedOut: allTimedOut });
  }

  /** A transport to `endpoint` alone, with the same timeout and TLS options (the caller closes it). */
  single(endpoint: string, timeoutMs = this.options.timeoutMs): HttpTransport {
    return new HttpTransport({ ...this.options, endpoints: [endpoint], timeoutMs });
  }

  /** How many requests this transport has sent to `endpoint` (every attempt, answered or not). */
  sentTo(endpoint: string): number {
    return this.sent.get(endpoint) ?? 0;
  }

  /** A transport to the same endpoints with another per-attempt timeout (the caller closes it). */
  withTimeout(timeoutMs: number): HttpTransport {
    return new HttpTransport({ ...this.options, timeoutMs });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent?.destroy();
  }

  private attempt(endpoint: string, req: HttpRequest): Promise<HttpResponse | AttemptFailure> {
    this.sent.set(endpoint, this.sentTo(endpoint) + 1);
    const url = new URL(req.path, endpoint);
    if (req.query !== undefined) url.search = req.query.toString();
    const body = req.form?.toString() ?? req.body;
    const isHttps = url.protocol === 'https:';
    const headers: http.OutgoingHttpHeaders = {};
    if (this.options.authorization !== undefined) headers.authorization = this.options.authorization;
    if (body !== undefined) {
      headers['content-type'] = req.form !== undefined ? 'application/x-www-form-urlencoded' : (req.contentType ?? 'application/octet-stream');
      headers['content-length'] = Buffer.byteLength(body);
    }
    // Not performance.now(): the global `performance` loads perf_hooks (~1 ms of kvctl's start-up).
    const started = process.hrtime.bigint();
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
    return new Promise((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.destroy();
        reject(req.signal!.reason);
      };
      const settle = (outcome: HttpResponse | AttemptFailure): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        const what = 'status' in outcome ? String(outcome.status) : `failed: ${outcome.reason}`;
        this.options.debug?.(`${req.method} ${url.href} -> ${what} (${Math.round(Number(process.hrtime.bigint() - started) / 1e6)} ms)`);
        resolve(outcome);
      };
      const options = { method: req.method, headers };
      const request = isHttps
        ? this.httpsModule().request(url, { ...options, agent: this.httpsAgentFor() })
        : http.request(url, { ...options, agent: this.httpAgent });
      let sent = false;
      const timer = setTimeout(() => {
        settle({ kind: sent ? 'maybe-sent' : 'not-sent', reason: `timed out after ${timeoutMs} ms`, timedOut: true });
        request.destroy();
      }, timeoutMs);
      req.signal?.addEventListener('abort', onAbort, { once: true });
      request.on('finish', () => {
        sent = true;
      });
      request.on('error', (err: NodeJS.ErrnoException) => {
        let tlsFailure = describeTlsFailure(err);
        // A TLS 1.3 server checks the client's certificate after the client thinks the handshake
        // is done, and refuses one it does not trust by closing the connection.
        if (isHttps && err.code === 'ECONNRESET' && tlsFailure === undefined) {
          tlsFailure = this.options.tls?.cert !== undefined
            ? 'ECONNRESET: the server closed the connection; it may have refused our client certificate (is it signed by a CA the server trusts?)'
            : 'ECONNRESET: the server closed the connection; it may require a client certificate (give --cert and --key)';
        }
        // A refused handshake means the request was never processed.
        const notSent = !sent || tlsFailure !== undefined || neverSent(err.code);
        settle({ kind: notSent ? 'not-sent' : 'maybe-sent', reason: tlsFailure ?? err.code ?? err.message });
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (err) => settle({ kind: 'maybe-sent', reason: err.message }));
        response.on('end', () =>
          settle({
            endpoint,
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      });
      request.end(body);
    });
  }
}
