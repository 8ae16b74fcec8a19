import type http from 'node:http';
import { ETCD_API_VERSION, VERSION } from '../api/version.ts';
import { ErrorCodes, StoreError } from '../store/store-error.ts';
import { AuthGate } from './auth.ts';
import { AuthApi } from './auth-api.ts';
import { TEXT_TYPE, notAllowed, writeJson, writeText } from './http-answer.ts';
import { KeysHttp, writeKeysReply } from './keys-http.ts';
import { keysError, keysHeaders } from './keys-service.ts';
import type { Logger } from './logger.ts';
import type { Member } from './member.ts';
import { MembersApi } from './members-api.ts';
import { Metrics } from './metrics.ts';
import { RequestAborted } from './read-body.ts';
import { servedPath } from './request-path.ts';
import { writeBackup } from './snapshot-backup.ts';
import { leaderStats, selfStats } from './stats-api.ts';

const KEYS_PREFIX = '/v2/keys';
/** etcd's CORS headers (its default --cors is `*`), on every answer to a client. */
const CORS_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['access-control-allow-headers', 'accept, content-type, authorization'],
  ['access-control-allow-methods', 'POST, GET, OPTIONS, PUT, DELETE'],
  ['access-control-allow-origin', '*'],
];
/** How long /health waits for its read through Raft, as etcd's does. */
const HEALTH_READ_TIMEOUT_MS = 1000;

/**
 * The client-facing HTTP API: etcd's v2 keys API and its companions, answered as etcd 3.4 does.
 * This module routes; the endpoints live in their own modules.
 */
export class ClientApi {
  private readonly member: Member;
  private readonly log: Logger;
  readonly metrics: Metrics;
  private readonly auth: AuthGate;
  private readonly authApi: AuthApi;
  private readonly keysHttp: KeysHttp;
  private readonly membersApi: MembersApi;
  private draining = false;
  /** A response's 'finish' listener, one for all (not a closure per request). */
  private readonly countAnswered: (this: http.ServerResponse) => void;

  constructor(member: Member, log: Logger) {
    this.member = member;
    this.log = log;
    this.metrics = new Metrics(member);
    const metrics = this.metrics;
    this.countAnswered = function () {
      metrics.request(this.req.method ?? 'GET', this.statusCode, this.req.url);
    };
    this.auth = new AuthGate(() => member.auth, member.config.clientTls?.clientCertAuth === true);
    this.authApi = new AuthApi(member, this.auth);
    this.keysHttp = new KeysHttp(member, this.auth, this.metrics, log);
    this.membersApi = new MembersApi(member, this.auth, this.authApi);
  }

  /** Stop taking new requests (SIGTERM): they get 503 while in-flight ones finish. */
  drain(): void {
    this.draining = true;
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.on('finish', this.countAnswered);
    for (const [name, value] of CORS_HEADERS) res.setHeader(name, value);
    this.route(req, res).catch((error: unknown) => {
      // Method and path only: the query and the body hold values. A client that goes away is its own affair.
      const method = req.method ?? 'GET';
      const path = (req.url ?? '/').split('?')[0];
      if (error instanceof RequestAborted) {
        this.log.debug('request broke off', { method, path });
        return void res.destroy();
      }
      this.log.error('request failed', { method, path, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      if (!res.headersSent) writeKeysReply(res, keysError(this.member, new StoreError(ErrorCodes.RaftInternal, 'internal error', this.member.store.index)));
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
    const path = servedPath(req, res, rawPath, query);
    if (path === undefined) return;
    if (this.draining) {
      res.writeHead(503, { 'content-type': TEXT_TYPE, connection: 'close' }).end('shutting down\n');
      return;
    }
    if (path === KEYS_PREFIX || path.startsWith(`${KEYS_PREFIX}/`)) return this.keysHttp.keys(req, res, path.slice(KEYS_PREFIX.length), query);
    if (this.authApi.handles(path)) return this.authApi.handle(req, res, path);
    // Only a GET of /v2/members/leader is the leader: to etcd, other methods name a member "leader".
    const leaderRead = path === '/v2/members/leader' && req.method === 'GET';
    if (path.startsWith('/v2/members/') && path !== '/v2/members/' && !leaderRead) return this.membersApi.memberById(req, res, path.slice('/v2/members/'.length));
    switch (path) {
      case '/version':
        return getOnly(req, res, () => writeJson(res, 200, { etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_API_VERSION, kvd: VERSION }, false));
      case '/health':
        return getOnly(req, res, () => this.health(res));
      case '/v2/members':
      case '/v2/members/':
        return this.membersApi.members(req, res);
      case '/v2/members/leader':
        return this.membersApi.leader(res);
      case '/v2/txn':
        return this.keysHttp.txn(req, res);
      case '/v2/machines':
        if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res, 'GET,HEAD');
        return writeText(res, 200, TEXT_TYPE, [...this.member.members.values()].flatMap((m) => [...m.clientURLs]).join(', '));
      case '/v2/stats/store':
        return getOnly(req, res, () => writeJson(res, 200, this.member.store.stats, false));
      case '/v2/stats/self':
        return getOnly(req, res, () => writeJson(res, 200, selfStats(this.member, Date.now()), false));
      case '/v2/stats/leader':
        return getOnly(req, res, () => {
          if (!this.member.isLeader) writeJson(res, 403, { message: 'not current leader' }, false);
          else writeJson(res, 200, leaderStats(this.member), false);
        });
      case '/v2/kvd/snapshot':
        // A kvd extension (etcd has no /v2/kvd): the whole store, hidden keys too, so with auth
        // enabled only root may take it.
        if (req.method !== 'GET') return notAllowed(res, 'GET');
        if (!(await this.auth.rootAccess(req))) return writeKeysReply(res, keysError(this.member, new StoreError(ErrorCodes.Unauthorized, 'Insufficient credentials', 0)));
        return this.backup(res);
      case '/metrics':
        return getOnly(req, res, () => void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(this.metrics.render()));
      default:
        res.setHeader('x-content-type-options', 'nosniff');
        writeText(res, 404, TEXT_TYPE, '404 page not found\n');
    }
  }

  private backup(res: http.ServerResponse): Promise<void> {
    const view = this.member.backupView();
    return writeBackup(res, view, keysHeaders(this.member, view.read.index, true), new Date());
  }

  /** As etcd's: healthy when there is a leader and a read through Raft (a quorum) completes in time. */
  private async health(res: http.ServerResponse): Promise<void> {
    const healthy = this.member.leader !== 0 && (await this.member.linearizableRead(HEALTH_READ_TIMEOUT_MS).then(() => true, () => false));
    if (healthy) return writeText(res, 200, TEXT_TYPE, JSON.stringify({ health: 'true' }));
    // etcd answers an unhealthy member through Go's http.Error: a newline and nosniff.
    res.setHeader('x-content-type-options', 'nosniff');
    writeText(res, 503, TEXT_TYPE, `${JSON.stringify({ health: 'false' })}\n`);
  }
}

function getOnly(req: http.IncomingMessage, res: http.ServerResponse, answer: () => void | Promise<void>): void | Promise<void> {
  if (req.method !== 'GET') return notAllowed(res, 'GET');
  return answer();
}
