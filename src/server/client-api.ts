import type http from 'node:http';
import { ETCD_API_VERSION, VERSION } from '../api/version.ts';
import type { V2Member } from '../api/wire.ts';
import type { StoreEvent } from '../store/event.ts';
import { ErrorCodes, StoreError } from '../store/store-error.ts';
import { AuthGate } from './auth.ts';
import { AuthApi } from './auth-api.ts';
import { chunkOf, directSocket } from './chunked.ts';
import { FormError, parseForm } from './form.ts';
import { commandFor } from './keys-command.ts';
import type { KeysMethod, KeysRequest } from './keys-request.ts';
import { parseKeysRequest } from './keys-request.ts';
import { errorStatus, eventStatus, successBody, writeGet } from './keys-response.ts';
import type { Logger } from './logger.ts';
import type { Member } from './member.ts';
import type { MemberInfo } from './member-info.ts';
import { MembershipError } from './membership-changes.ts';
import type { MemberRequest } from './member-request.ts';
import { parseMemberRequest } from './member-request.ts';
import { formatId, parseId } from './member-id.ts';
import { Metrics } from './metrics.ts';
import { BodyTooLarge, RequestAborted, readBody } from './read-body.ts';
import { redirectLocation } from './redirect-location.ts';
import { writeBackup } from './snapshot-backup.ts';
import { StreamBacklog } from './stream-backlog.ts';
import { answerTxn } from './txn-request.ts';

const KEYS_PREFIX = '/v2/keys';
const KEYS_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);
const JSON_TYPE = 'application/json';
const TEXT_TYPE = 'text/plain; charset=utf-8';
/** etcd's CORS headers (its default --cors is `*`), on every answer to a client. */
const CORS_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['access-control-allow-headers', 'accept, content-type, authorization'],
  ['access-control-allow-methods', 'POST, GET, OPTIONS, PUT, DELETE'],
  ['access-control-allow-origin', '*'],
];
/** The largest body Go's server sends with a Content-Length rather than chunked. */
const GO_UNCHUNKED_BYTES = 2048;
/** How long /health waits for its read through Raft, as etcd's does. */
const HEALTH_READ_TIMEOUT_MS = 1000;
/** How far (bytes unflushed) a watch stream's client may fall behind before its stream is ended. */
const WATCH_BACKLOG_LIMIT = 1 << 20;

/** An event as watchers receive it, serialised once however many watchers it goes to. */
const eventLines = new WeakMap<StoreEvent, string>();
function serialised(event: StoreEvent): string {
  let line = eventLines.get(event);
  if (line === undefined) {
    line = `${JSON.stringify(event)}\n`;
    eventLines.set(event, line);
  }
  return line;
}

/**
 * An event as one chunk of a chunked response, framed once for all the streams it goes to and
 * written straight to their sockets: the HTTP layer's per-write framing and corking had made the
 * fan-out to 10,000 streams half again as slow.
 */
const eventChunks = new WeakMap<StoreEvent, Buffer>();
function framedChunk(event: StoreEvent): Buffer {
  let chunk = eventChunks.get(event);
  if (chunk === undefined) {
    chunk = chunkOf(serialised(event));
    eventChunks.set(event, chunk);
  }
  return chunk;
}

/** The client-facing HTTP API: etcd's v2 keys API and its companions, answered as etcd 3.4 does. */
export class ClientApi {
  private readonly member: Member;
  private readonly log: Logger;
  readonly metrics: Metrics;
  private readonly auth: AuthGate;
  private readonly authApi: AuthApi;
  private draining = false;

  constructor(member: Member, log: Logger) {
    this.member = member;
    this.log = log;
    this.metrics = new Metrics(member);
    this.auth = new AuthGate(() => member.auth, member.config.clientTls?.clientCertAuth === true);
    this.authApi = new AuthApi(member, this.auth);
  }

  /** Stop taking new requests (SIGTERM): they get 503 while in-flight ones finish. */
  drain(): void {
    this.draining = true;
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? 'GET';
    res.on('finish', () => this.metrics.request(method, res.statusCode, req.url));
    for (const [name, value] of CORS_HEADERS) res.setHeader(name, value);
    this.route(req, res).catch((error: unknown) => {
      // Method and path only: the query and the body hold values. A client that goes away is its own affair.
      const path = (req.url ?? '/').split('?')[0];
      if (error instanceof RequestAborted) {
        this.log.debug('request broke off', { method, path });
        return void res.destroy();
      }
      this.log.error('request failed', { method, path, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      if (!res.headersSent) this.writeError(res, new StoreError(ErrorCodes.RaftInternal, 'internal error', this.member.store.index));
      else res.destroy();
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const question = rawUrl.indexOf('?');
    const rawPath = question < 0 ? rawUrl : rawUrl.slice(0, question);
    const query = question < 0 ? '' : rawUrl.slice(question + 1);
    // etcd's CORS layer answers a preflight on any path, before its router sees it.
    if (req.method === 'OPTIONS') return void res.writeHead(200, { 'content-length': 0 }).end();
    let path: string;
    try {
      path = percentDecode(rawPath);
    } catch {
      res.writeHead(400, { 'content-type': TEXT_TYPE, connection: 'close' }).end('400 Bad Request');
      return;
    }
    // Go's ServeMux answers unclean paths with a redirect to the clean one; nothing else happens.
    const clean = cleanServePath(path);
    if (clean !== path) {
      // As Go's http.Redirect: the HTML body for GET, its content type for GET and HEAD. The
      // location is made from the path's bytes, escaped: never from the decoded text.
      const location = redirectLocation(cleanServePath(percentDecodeBytes(rawPath)), query);
      if (req.method === 'GET' || req.method === 'HEAD') {
        const body = req.method === 'GET' ? `<a href="${htmlEscape(location)}">Moved Permanently</a>.\n\n` : '';
        res.writeHead(301, { location, 'content-type': 'text/html; charset=utf-8', ...(body === '' ? {} : { 'content-length': Buffer.byteLength(body) }) }).end(body);
      } else {
        res.writeHead(301, { location, 'content-length': 0 }).end();
      }
      return;
    }
    if (this.draining) {
      res.writeHead(503, { 'content-type': TEXT_TYPE, connection: 'close' }).end('shutting down\n');
      return;
    }
    if (path === KEYS_PREFIX || path.startsWith(`${KEYS_PREFIX}/`)) return this.keys(req, res, path.slice(KEYS_PREFIX.length), query);
    if (this.authApi.handles(path)) return this.authApi.handle(req, res, path);
    // Only a GET of /v2/members/leader is the leader: to etcd, other methods name a member "leader".
    const leaderRead = path === '/v2/members/leader' && req.method === 'GET';
    if (path.startsWith('/v2/members/') && path !== '/v2/members/' && !leaderRead) return this.memberById(req, res, path.slice('/v2/members/'.length));
    switch (path) {
      case '/version':
        return this.getOnly(req, res, () => this.writeJson(res, 200, { etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_API_VERSION, kvd: VERSION }, false));
      case '/health':
        return this.getOnly(req, res, () => this.health(res));
      case '/v2/members':
      case '/v2/members/':
        return this.members(req, res);
      case '/v2/members/leader':
        return this.leader(res);
      case '/v2/txn':
        return this.txn(req, res);
      case '/v2/machines':
        if (req.method !== 'GET' && req.method !== 'HEAD') return this.notAllowed(res, 'GET,HEAD');
        this.writeText(res, 200, TEXT_TYPE, this.clientUrls().join(', '));
        return;
      case '/v2/stats/store':
        return this.getOnly(req, res, () => this.writeJson(res, 200, this.member.store.stats, false));
      case '/v2/stats/self':
        return this.getOnly(req, res, () => this.writeJson(res, 200, this.selfStats(), false));
      case '/v2/stats/leader':
        return this.getOnly(req, res, () => {
          if (!this.member.isLeader) this.writeJson(res, 403, { message: 'not current leader' }, false);
          else this.writeJson(res, 200, this.leaderStats(), false);
        });
      case '/v2/kvd/snapshot':
        // A kvd extension (etcd has no /v2/kvd): the whole store, hidden keys too, so with auth
        // enabled only root may take it.
        if (req.method !== 'GET') return this.notAllowed(res, 'GET');
        if (!(await this.auth.rootAccess(req))) return this.writeError(res, new StoreError(ErrorCodes.Unauthorized, 'Insufficient credentials', 0));
        return this.backup(res);
      case '/metrics':
        return this.getOnly(req, res, () => void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(this.metrics.render()));
      default:
        res.setHeader('x-content-type-options', 'nosniff');
        this.writeText(res, 404, TEXT_TYPE, '404 page not found\n');
    }
  }

  // --- keys ------------------------------------------------------------------------------------

  private async keys(req: http.IncomingMessage, res: http.ServerResponse, keyPath: string, query: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (!KEYS_METHODS.has(method)) return this.notAllowed(res, 'HEAD,GET,PUT,POST,DELETE');
    let body: string;
    try {
      body = (await readBody(req, this.member.config.maxRequestBytes)).toString('utf8');
    } catch (error) {
      // As Go's form parser refuses a body over its limit (10 MiB, kvd's default limit).
      if (error instanceof BodyTooLarge) return this.writeError(res, new StoreError(ErrorCodes.InvalidForm, 'http: POST too large', 0));
      throw error;
    }
    let request: KeysRequest;
    try {
      const { form, error } = parseForm(method, query, req.headers['content-type'], body);
      if (error !== undefined) throw new StoreError(ErrorCodes.InvalidForm, error.message, 0);
      request = parseKeysRequest(method as KeysMethod, keyPath, form);
    } catch (error) {
      if (error instanceof StoreError) return this.writeError(res, error);
      if (error instanceof FormError) return this.writeError(res, new StoreError(ErrorCodes.InvalidForm, error.message, 0));
      throw error;
    }
    if (!(await this.auth.keyAccess(req, keyPath, request.recursive))) return this.writeError(res, new StoreError(ErrorCodes.Unauthorized, 'Insufficient credentials', 0));
    try {
      if (request.method === 'GET' || request.method === 'HEAD') {
        // etcd turns a quorum GET into a read through Raft before it looks at `wait`: no watch.
        const quorumGet = request.method === 'GET' && request.quorum;
        if (request.wait && !quorumGet) return this.watch(req, res, request);
        if (request.quorum) await this.member.linearizableRead();
        const read = this.member.store.read(request.key, request.recursive, request.sorted, Date.now());
        return await writeGet(res, read, this.headers(read.index, true), request.method === 'HEAD');
      }
      const applied = await this.member.proposeKeys(commandFor(request, Date.now()));
      return this.writeEvent(res, applied.event, applied.etcdIndex, request, false);
    } catch (error) {
      if (error instanceof StoreError) return this.writeError(res, error);
      throw error;
    }
  }

  /** kvd's extension: an atomic multi-key transaction (docs/api.md). */
  private async txn(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST') return this.notAllowed(res, 'POST');
    const answer = await answerTxn(req, this.member, (accesses) => this.auth.keysAccess(req, accesses));
    const body = `${JSON.stringify(answer.body)}\n`;
    res.writeHead(answer.status, { ...this.headers(answer.etcdIndex, answer.status === 200), 'content-length': Buffer.byteLength(body) }).end(body);
  }

  private watch(req: http.IncomingMessage, res: http.ServerResponse, request: KeysRequest): void {
    const member = this.member;
    const socket = req.socket;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      start?.watcher?.remove();
      member.storeReplacedListeners.delete(finish);
      socket.off('end', finish);
      if (!res.writableEnded && !res.destroyed) res.end();
    };
    const backlog = new StreamBacklog(res, WATCH_BACKLOG_LIMIT);
    const deliver = (event: StoreEvent): void => {
      if (finished) return;
      if (request.stream && backlog.exceeded()) return this.endSlowStream(res, request.key, backlog.bytes, finish);
      const direct = request.stream ? directSocket(res) : undefined;
      if (direct !== undefined) direct.write(framedChunk(event));
      else res.write(serialised(event));
      if (!request.stream) finish();
    };
    let start: ReturnType<typeof member.store.watch> | undefined;
    try {
      start = member.store.watch(request.key, request.recursive, request.stream, request.waitIndex, deliver);
    } catch (error) {
      if (error instanceof StoreError) return this.writeError(res, error);
      throw error;
    }
    // etcd sends the headers at once, with the index at registration, then the event(s).
    res.writeHead(200, this.headers(start.index, true));
    res.flushHeaders();
    member.storeReplacedListeners.add(finish);
    // The watcher leaves the hub when the client goes away first: its connection closes (the
    // response's 'close' follows), or it half-closes it (FIN), which etcd takes as gone too
    // while other requests are answered. A kept-alive socket serves many watches: its listener
    // goes with the watch.
    res.on('close', finish);
    socket.on('end', finish);
    for (const event of start.events) deliver(event);
    backlog.replayed();
    if (start.watcher === null) finish();
  }

  /**
   * Ends a stream whose client has fallen too far behind: its connection is closed at once, which
   * frees what was buffered for it. The client re-watches from the index after its last event.
   */
  private endSlowStream(res: http.ServerResponse, key: string, backlogBytes: number, finish: () => void): void {
    res.destroy();
    finish();
    this.metrics.slowStreamEnded();
    this.log.warn('slow watch stream ended', { key, backlogBytes });
  }

  private writeEvent(res: http.ServerResponse, event: StoreEvent, etcdIndex: number, request: KeysRequest, headOnly: boolean): void {
    const body = successBody(event, request.noValueOnSuccess);
    res.writeHead(eventStatus(event), { ...this.headers(etcdIndex, true), ...lengthHeader(body) });
    res.end(headOnly ? undefined : body);
  }

  private writeError(res: http.ServerResponse, error: StoreError, status = errorStatus(error.errorCode)): void {
    const body = `${JSON.stringify(error.toJSON())}\n`;
    res.writeHead(status, { ...this.headers(error.index, false), ...lengthHeader(body) });
    res.end(body);
  }

  private headers(etcdIndex: number, withRaft: boolean): http.OutgoingHttpHeaders {
    const headers: http.OutgoingHttpHeaders = {
      'content-type': JSON_TYPE,
      'x-etcd-cluster-id': formatId(this.member.clusterId),
      'x-etcd-index': String(etcdIndex),
    };
    if (withRaft) {
      headers['x-raft-index'] = String(this.member.raftIndex);
      headers['x-raft-term'] = String(this.member.term);
    }
    return headers;
  }

  // --- the other endpoints ---------------------------------------------------------------------

  private backup(res: http.ServerResponse): Promise<void> {
    const view = this.member.backupView();
    return writeBackup(res, view, this.headers(view.read.index, true), new Date());
  }

  private async members(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!(await this.auth.writeRootAccess(req))) return this.authApi.writeNoAuth(res);
    if (req.method === 'GET') {
      // etcd lists its members by id.
      const members = [...this.member.members.values()].sort((a, b) => a.id - b.id).map(memberJson);
      return this.writeMembersJson(res, 200, { members });
    }
    if (req.method !== 'POST') return this.notAllowed(res, 'GET,POST,DELETE,PUT');
    const body = await this.readMemberBody(req, res);
    if (body === undefined) return;
    await this.membershipAnswer(res, async () => this.writeMembersJson(res, 201, memberJson(await this.member.addMember(body.peerURLs, body.isLearner))));
  }

  /** /v2/members/<id> (DELETE, PUT) and kvd's extensions /v2/members/<id>/promote and /leader (POST). */
  private async memberById(req: http.IncomingMessage, res: http.ServerResponse, rest: string): Promise<void> {
    const [idText, action] = rest.split('/');
    if (!(await this.auth.writeRootAccess(req))) return this.authApi.writeNoAuth(res);
    const id = parseId(idText ?? '');
    const unknown = () => this.writeMembersJson(res, 404, { message: `No such member: ${idText}` });
    // etcd reads one member through the list only: a GET of any path below it is not found.
    if (req.method === 'GET') return this.writeMembersJson(res, 404, { message: 'Not found' });
    if (action === 'promote' || action === 'leader') {
      if (req.method !== 'POST') return this.notAllowed(res, 'POST');
      if (id === undefined || !this.member.members.has(id)) return unknown();
      if (action === 'promote') return this.membershipAnswer(res, async () => this.writeMembersJson(res, 200, memberJson(await this.member.promoteMember(id))));
      return this.membershipAnswer(res, async () => {
        await this.member.handOverLeadership(id);
        this.writeMembersJson(res, 200, memberJson(this.member.members.get(id)!));
      });
    }
    if (action !== undefined) return unknown();
    if (req.method === 'DELETE') {
      if (id === undefined || !this.member.members.has(id)) return unknown();
      return this.membershipAnswer(res, async () => {
        await this.member.removeMember(id);
        res.writeHead(204, this.membersHeaders()).end();
      });
    }
    if (req.method === 'PUT') {
      if (id === undefined || !this.member.members.has(id)) return unknown();
      const body = await this.readMemberBody(req, res);
      if (body === undefined) return;
      return this.membershipAnswer(res, async () => {
        await this.member.updateMember(id, body.peerURLs);
        res.writeHead(204, this.membersHeaders()).end();
      });
    }
    return this.notAllowed(res, 'GET,POST,DELETE,PUT');
  }

  /** Reads `{"peerURLs": [...], "isLearner": bool}`; answers 415/400 as etcd and returns undefined on error. */
  private async readMemberBody(req: http.IncomingMessage, res: http.ServerResponse): Promise<MemberRequest | undefined> {
    const contentType = req.headers['content-type'] ?? '';
    const text = await readBody(req, this.member.config.maxRequestBytes).then((b) => b.toString('utf8'), () => undefined);
    if (contentType.split(';')[0]!.trim() !== 'application/json') {
      this.writeMembersJson(res, 415, { message: `Bad Content-Type ${contentType}, accept application/json` });
      return undefined;
    }
    let body: unknown;
    try {
      body = JSON.parse(text ?? '');
    } catch (error) {
      this.writeMembersJson(res, 400, { message: `invalid JSON: ${(error as Error).message}` });
      return undefined;
    }
    const request = parseMemberRequest(body);
    if ('message' in request) {
      this.writeMembersJson(res, 400, { message: request.message });
      return undefined;
    }
    return request;
  }

  private async membershipAnswer(res: http.ServerResponse, act: () => Promise<void>): Promise<void> {
    try {
      await act();
    } catch (error) {
      if (!(error instanceof MembershipError)) throw error;
      this.writeMembersJson(res, error.status, { message: error.message });
    }
  }

  private membersHeaders(): http.OutgoingHttpHeaders {
    return {
      'content-type': JSON_TYPE,
      'x-etcd-cluster-id': formatId(this.member.clusterId),
    };
  }

  /** etcd ends the members API's JSON with a newline, but not its error messages. */
  private writeMembersJson(res: http.ServerResponse, status: number, value: unknown): void {
    const body = JSON.stringify(value) + (status < 400 ? '\n' : '');
    res.writeHead(status, { ...this.membersHeaders(), ...lengthHeader(body) }).end(body);
  }

  private leader(res: http.ServerResponse): void {
    const leader = this.member.members.get(this.member.leader);
    res.setHeader('x-etcd-cluster-id', formatId(this.member.clusterId));
    if (leader === undefined) return this.writeText(res, 503, JSON_TYPE, `${JSON.stringify({ message: 'During Leader Election' })}\n`);
    this.writeText(res, 200, JSON_TYPE, `${JSON.stringify(memberJson(leader))}\n`);
  }

  private selfStats(): Record<string, unknown> {
    const m = this.member;
    const state = m.isLeader ? 'StateLeader' : m.role === 'follower' ? 'StateFollower' : 'StateCandidate';
    return {
      name: m.name,
      id: formatId(m.id),
      state,
      startTime: m.startTime.toISOString(),
      leaderInfo: { leader: formatId(m.leader), uptime: `${Math.round((Date.now() - m.startTime.getTime()) / 1000)}s`, startTime: m.startTime.toISOString() },
      recvAppendRequestCnt: m.transport.receivedAppends,
      sendAppendRequestCnt: m.transport.sentAppends,
    };
  }

  /** etcd's leader stats: per follower, round-trip latency (ms) and counts of sends. */
  private leaderStats(): Record<string, unknown> {
    const followers: Record<string, unknown> = {};
    for (const id of this.member.members.keys()) {
      if (id === this.member.id) continue;
      const s = this.member.transport.peerStats.get(id);
      const n = s?.success ?? 0;
      const average = n > 0 ? s!.sum / n : 0;
      const variance = n > 0 ? Math.max(0, s!.sumOfSquares / n - average * average) : 0;
      followers[formatId(id)] = {
        latency: { current: s?.current ?? 0, average, standardDeviation: Math.sqrt(variance), minimum: n > 0 ? s!.minimum : 0, maximum: s?.maximum ?? 0 },
        counts: { fail: s?.fail ?? 0, success: n },
      };
    }
    return { leader: formatId(this.member.id), followers };
  }

  private clientUrls(): string[] {
    return [...this.member.members.values()].flatMap((m) => [...m.clientURLs]);
  }

  private getOnly(req: http.IncomingMessage, res: http.ServerResponse, answer: () => void | Promise<void>): void | Promise<void> {
    if (req.method !== 'GET') return this.notAllowed(res, 'GET');
    return answer();
  }

  /** As etcd's: healthy when there is a leader and a read through Raft (a quorum) completes in time. */
  private async health(res: http.ServerResponse): Promise<void> {
    const healthy = this.member.leader !== 0 && (await this.member.linearizableRead(HEALTH_READ_TIMEOUT_MS).then(() => true, () => false));
    if (healthy) return this.writeText(res, 200, TEXT_TYPE, JSON.stringify({ health: 'true' }));
    // etcd answers an unhealthy member through Go's http.Error: a newline and nosniff.
    res.setHeader('x-content-type-options', 'nosniff');
    this.writeText(res, 503, TEXT_TYPE, `${JSON.stringify({ health: 'false' })}\n`);
  }

  private notAllowed(res: http.ServerResponse, allow: string): void {
    res.setHeader('x-content-type-options', 'nosniff');
    this.writeText(res, 405, TEXT_TYPE, 'Method Not Allowed\n', { allow });
  }

  private writeJson(res: http.ServerResponse, status: number, value: unknown, newline: boolean): void {
    this.writeText(res, status, JSON_TYPE, JSON.stringify(value) + (newline ? '\n' : ''));
  }

  /** A whole body, framed as Go's server frames it (see lengthHeader). */
  private writeText(res: http.ServerResponse, status: number, contentType: string, body: string, headers: http.OutgoingHttpHeaders = {}): void {
    res.writeHead(status, { ...headers, 'content-type': contentType, ...lengthHeader(body) }).end(body);
  }
}

/**
 * Go's server gives a body that fits its 2 KiB buffer a Content-Length and sends a longer one
 * chunked; the answers here are written whole, so they are framed as etcd's are.
 */
function lengthHeader(body: string): http.OutgoingHttpHeaders {
  const length = Buffer.byteLength(body);
  return length <= GO_UNCHUNKED_BYTES ? { 'content-length': length } : {};
}

function memberJson(m: MemberInfo): V2Member {
  return { id: formatId(m.id), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, ...(m.isLearner ? { isLearner: true } : {}) };
}

/** Go's html.EscapeString subset used by http.Redirect. */
function htmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
}

/** Decodes %XX in a URL path (`+` stays `+`); throws on a malformed escape. */
function percentDecode(path: string): string {
  if (!path.includes('%')) return path;
  if (/%(?![0-9a-fA-F]{2})/.test(path)) throw new URIError('malformed escape');
  return new TextDecoder().decode(Buffer.from(percentDecodeBytes(path), 'latin1'));
}

/** Decodes %XX in a URL path to its bytes, one Latin-1 char per byte (the escapes are known sound). */
function percentDecodeBytes(path: string): string {
  return path.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Go's ServeMux cleanPath: path.Clean, keeping a trailing slash. */
function cleanServePath(path: string): string {
  if (path === '') return '/';
  const absolute = path.startsWith('/') ? path : `/${path}`;
  const out: string[] = [];
  for (const part of absolute.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  let clean = `/${out.join('/')}`;
  if (absolute.endsWith('/') && clean !== '/') clean += '/';
  return clean;
}

