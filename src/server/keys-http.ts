import type http from 'node:http';
import { ErrorCodes, StoreError } from '../store/store-error.ts';
import type { AuthGate } from './auth.ts';
import { lengthHeader, notAllowed } from './http-answer.ts';
import { writeGet } from './keys-response.ts';
import type { AccessCheck, KeysReply } from './keys-service.ts';
import { answerKeys, isKeysMethod, keysError, keysHeaders } from './keys-service.ts';
import type { Logger } from './logger.ts';
import type { Member } from './member.ts';
import type { Metrics } from './metrics.ts';
import { BodyTooLarge, readBody } from './read-body.ts';
import type { TxnAnswer } from './txn-request.ts';
import { answerTxn, txnTooLarge } from './txn-request.ts';
import { streamWatch } from './watch-stream.ts';

/**
 * /v2/keys and /v2/txn over HTTP: the request's parts and the clock reading go to the keys
 * service (or the transaction's), and its answer comes back as etcd frames it.
 */
export class KeysHttp {
  private readonly member: Member;
  private readonly auth: AuthGate;
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(member: Member, auth: AuthGate, metrics: Metrics, log: Logger) {
    this.member = member;
    this.auth = auth;
    this.metrics = metrics;
    this.log = log;
  }

  /** A request to /v2/keys<keyPath>, the path decoded, the query not. */
  async keys(req: http.IncomingMessage, res: http.ServerResponse, keyPath: string, query: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (!isKeysMethod(method)) return notAllowed(res, 'HEAD,GET,PUT,POST,DELETE');
    let body: string;
    try {
      body = (await readBody(req, this.member.config.maxRequestBytes)).toString('utf8');
    } catch (error) {
      // As Go's form parser refuses a body over its limit (10 MiB, kvd's default limit).
      if (error instanceof BodyTooLarge) return writeKeysReply(res, keysError(this.member, new StoreError(ErrorCodes.InvalidForm, 'http: POST too large', 0)));
      throw error;
    }
    const answer = await answerKeys(this.member, { method, keyPath, query, contentType: req.headers['content-type'], body, now: Date.now(), allowed: this.accessCheck(req) });
    if (answer.kind === 'reply') return writeKeysReply(res, answer);
    if (answer.kind === 'read') return writeGet(res, answer.read, answer.headers, answer.headOnly);
    streamWatch(req, res, answer, (key, backlogBytes) => {
      this.metrics.slowStreamEnded();
      this.log.warn('slow watch stream ended', { key, backlogBytes });
    });
  }

  /** kvd's extension: an atomic multi-key transaction (docs/api.md). */
  async txn(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST') return notAllowed(res, 'POST');
    let answer: TxnAnswer;
    try {
      const body = (await readBody(req, this.member.config.maxRequestBytes)).toString('utf8');
      answer = await answerTxn(this.member, { contentType: req.headers['content-type'], body, now: Date.now(), allowed: this.accessCheck(req) });
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      answer = txnTooLarge();
    }
    const body = `${JSON.stringify(answer.body)}\n`;
    res.writeHead(answer.status, { ...keysHeaders(this.member, answer.etcdIndex, answer.status === 200), 'content-length': Buffer.byteLength(body) }).end(body);
  }

  /** The caller's permissions, as auth sees them from the request's credentials. */
  private accessCheck(req: http.IncomingMessage): AccessCheck {
    return (accesses) => this.auth.keysAccess(req, accesses);
  }
}

/** A whole keys answer; for a HEAD, Node leaves the body out and keeps its length. */
export function writeKeysReply(res: http.ServerResponse, reply: KeysReply): void {
  res.writeHead(reply.status, { ...reply.headers, ...lengthHeader(reply.body) }).end(reply.body);
}
