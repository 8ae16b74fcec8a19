import type http from 'node:http';
import { neverSent } from '../api/network-errors.ts';
import type { ProxyConfig } from './config.ts';
import type { Logger } from './logger.ts';
import type { Outbound } from './outbound.ts';
import { decodePeerMembers } from './peer-members.ts';
import { forwardedTarget } from './proxy-target.ts';
import { BodyTooLarge, readBody } from './read-body.ts';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);
/** How long a member that failed is tried only when every other one has failed too. */
const FAILED_FOR_MS = 5000;

function forwardable(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
  return out;
}

/**
 * A member's client URL as the origin to forward to, or undefined when it is not an http(s) URL
 * of a host: the list comes from the cluster, and only the scheme, host and port of it are used.
 */
function memberOrigin(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    const parsed = new URL(url);
    if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '' || parsed.username !== '' || parsed.password !== '') return undefined;
    return parsed.origin;
  } catch {
    return undefined;
  }
}

/** A reason a forward failed, and whether the request certainly never reached the member. */
interface ForwardFailure {
  readonly reason: string;
  readonly notSent: boolean;
}


/**
 * A proxy member (etcd's `--proxy on`): stores nothing and forwards every client request to a
 * healthy member, streaming the answer back (so long-poll and streaming watches pass through).
 * It learns the members' client URLs from the seeds and refreshes them periodically; a member
 * that fails is avoided for a while and the request goes to the next. `readonly` refuses
 * everything but GET with 501, as etcd's read-only proxy does.
 */
export class ProxyMember {
  private readonly config: ProxyConfig;
  private readonly clients: Outbound;
  private readonly peers: Outbound;
  private readonly log: Logger;
  private readonly maxRequestBytes: number;
  private endpoints: string[];
  private readonly failedUntil = new Map<string, number>();
  private preferred = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(config: ProxyConfig, clients: Outbound, peers: Outbound, log: Logger, maxRequestBytes: number) {
    this.config = config;
    this.clients = clients;
    this.peers = peers;
    this.log = log;
    this.maxRequestBytes = maxRequestBytes;
    this.endpoints = [...config.clientSeeds];
  }

  /** Learns the members once, then every refresh interval. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.config.refreshIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.clients.close();
    this.peers.close();
  }

  get memberUrls(): readonly string[] {
    return this.endpoints;
  }

  /** Asks the known members, then the seeds, for the member list; keeps the old one if none answers. */
  async refresh(): Promise<void> {
    const asked: string[] = [];
    for (const endpoint of [...new Set([...this.endpoints, ...this.config.clientSeeds])]) {
      try {
        const body = (await this.clients.getJson(new URL('/v2/members', endpoint), 3000)) as { members?: Array<{ clientURLs?: unknown[] }> };
        return this.learn((body.members ?? []).flatMap((m) => m.clientURLs ?? []), endpoint);
      } catch (error) {
        asked.push(`${endpoint}: ${(error as Error).message}`);
      }
    }
    for (const peer of this.config.peerSeeds) {
      try {
        const answer = await this.peers.getJsonAnswer(new URL('/members', peer), 3000);
        return this.learn(decodePeerMembers(answer.body, answer.headers).members.flatMap((m) => m.clientURLs), peer);
      } catch (error) {
        asked.push(`${peer}: ${(error as Error).message}`);
      }
    }
    this.log.warn('proxy: no member listed the cluster; keeping the members known', { members: this.endpoints.join(','), asked: asked.join('; ') });
  }

  private learn(urls: unknown[], from: string): void {
    const refused = urls.filter((url) => memberOrigin(url) === undefined);
    if (refused.length > 0) this.log.warn('proxy: ignored client URLs that are not http(s) URLs of a host', { count: refused.length, from });
    const next = [...new Set(urls.flatMap((url) => memberOrigin(url) ?? []))];
    if (next.length === 0) return;
    if (next.join(',') !== this.endpoints.join(',')) this.log.info('proxy: members', { clientURLs: next.join(','), from });
    this.endpoints = next;
    this.preferred = Math.min(this.preferred, next.length - 1);
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const target = forwardedTarget(req.url ?? '');
    if (target === undefined) {
      req.resume();
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('proxy: only origin-form paths of the client API are forwarded\n');
      return;
    }
    if (this.config.mode === 'readonly' && req.method !== 'GET') {
      req.resume();
      res.writeHead(501).end();
      return;
    }
    readBody(req, this.maxRequestBytes).then(
      (body) => void this.forwardToAny(target, req, res, body),
      (error: unknown) => {
        if (!(error instanceof BodyTooLarge)) return void res.destroy();
        res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8' }).end('http: request body too large\n');
      },
    );
  }

  /** Members in the order to try them: the preferred first, then the rest, those that failed lately last. */
  private candidates(): string[] {
    const now = Date.now();
    const ordered = this.endpoints.map((_, i) => this.endpoints[(this.preferred + i) % this.endpoints.length]!);
    return [...ordered.filter((e) => (this.failedUntil.get(e) ?? 0) <= now), ...ordered.filter((e) => (this.failedUntil.get(e) ?? 0) > now)];
  }

  private async forwardToAny(target: string, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const candidates = this.candidates();
    if (candidates.length === 0) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('proxy: zero endpoints currently available\n');
      return;
    }
    const idempotent = req.method === 'GET' || req.method === 'HEAD';
    for (const endpoint of candidates) {
      if (res.destroyed) return;
      const failure = await this.forward(endpoint, target, req, res, body);
      if (failure === undefined) {
        this.preferred = Math.max(0, this.endpoints.indexOf(endpoint));
        return;
      }
      // The client went away and the forward was ended for it: the member did not fail.
      if (res.destroyed) return;
      this.failedUntil.set(endpoint, Date.now() + FAILED_FOR_MS);
      this.log.warn('proxy: member failed', { member: endpoint, reason: failure.reason });
      // A write that may have reached the member must not be applied twice.
      if (!failure.notSent && !idempotent) break;
      if (res.headersSent) return;
    }
    if (!res.headersSent) res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(`proxy: unable to get response from ${candidates.length} endpoint(s)\n`);
    else res.destroy();
  }

  /**
   * Forwards to one member and streams its answer; resolves with a failure before any answer byte.
   * The member's origin is the URL; the target goes in as the request path only, never parsed
   * against it, so that nothing in the request can change the host.
   */
  private forward(endpoint: string, target: string, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<ForwardFailure | undefined> {
    return new Promise((resolve) => {
      const headers = { ...forwardable(req.headers), 'content-length': body.length };
      let upstream: http.ClientRequest;
      try {
        upstream = this.clients.request(new URL(endpoint), { method: req.method ?? 'GET', headers, path: target });
      } catch (error) {
        return resolve({ reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message, notSent: true });
      }
      let sent = false;
      let answered = false;
      upstream.on('finish', () => (sent = true));
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        if (answered) return void res.destroy();
        resolve({ reason: error.code ?? error.message, notSent: !sent || neverSent(error.code) });
      });
      upstream.on('response', (response) => {
        answered = true;
        res.writeHead(response.statusCode ?? 502, forwardable(response.headers));
        response.pipe(res);
        response.on('error', () => res.destroy());
        resolve(undefined);
      });
      // A client that goes away (a watch it gave up) ends the forwarded request too.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.end(body);
    });
  }
}
