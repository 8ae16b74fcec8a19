import type http from 'node:http';
import type { V2Member } from '../api/wire.ts';
import type { AuthGate } from './auth.ts';
import type { AuthApi } from './auth-api.ts';
import { JSON_TYPE, lengthHeader, notAllowed, writeText } from './http-answer.ts';
import type { Member } from './member.ts';
import type { MemberInfo } from './member-info.ts';
import { MembershipError } from './membership-changes.ts';
import type { MemberRequest } from './member-request.ts';
import { parseMemberRequest } from './member-request.ts';
import { formatId, parseId } from './member-id.ts';
import { RequestAborted, readBody } from './read-body.ts';

/** etcd's v2 members API (/v2/members...) and kvd's extensions to it, answered as etcd 3.4 does. */
export class MembersApi {
  private readonly member: Member;
  private readonly auth: AuthGate;
  private readonly authApi: AuthApi;

  constructor(member: Member, auth: AuthGate, authApi: AuthApi) {
    this.member = member;
    this.auth = auth;
    this.authApi = authApi;
  }

  /** /v2/members: the list (GET), or a member added (POST). */
  async members(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!(await this.auth.writeRootAccess(req))) return this.authApi.writeNoAuth(res);
    if (req.method === 'GET') {
      // etcd lists its members by id.
      const members = [...this.member.members.values()].sort((a, b) => a.id - b.id).map(memberJson);
      return this.writeMembersJson(res, 200, { members });
    }
    if (req.method !== 'POST') return notAllowed(res, 'GET,POST,DELETE,PUT');
    const body = await this.readMemberBody(req, res);
    if (body === undefined) return;
    await this.membershipAnswer(res, async () => this.writeMembersJson(res, 201, memberJson(await this.member.addMember(body.peerURLs, body.isLearner))));
  }

  /** /v2/members/<id> (DELETE, PUT) and kvd's extensions /v2/members/<id>/promote and /leader (POST). */
  async memberById(req: http.IncomingMessage, res: http.ServerResponse, rest: string): Promise<void> {
    const [idText, action] = rest.split('/');
    if (!(await this.auth.writeRootAccess(req))) return this.authApi.writeNoAuth(res);
    const id = parseId(idText ?? '');
    const unknown = () => this.writeMembersJson(res, 404, { message: `No such member: ${idText}` });
    // etcd reads one member through the list only: a GET of any path below it is not found.
    if (req.method === 'GET') return this.writeMembersJson(res, 404, { message: 'Not found' });
    if (action === 'promote' || action === 'leader') {
      if (req.method !== 'POST') return notAllowed(res, 'POST');
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
    return notAllowed(res, 'GET,POST,DELETE,PUT');
  }

  /** GET /v2/members/leader: the leader as a member, or 503 during an election. */
  leader(res: http.ServerResponse): void {
    const leader = this.member.members.get(this.member.leader);
    res.setHeader('x-etcd-cluster-id', formatId(this.member.clusterId));
    if (leader === undefined) return writeText(res, 503, JSON_TYPE, `${JSON.stringify({ message: 'During Leader Election' })}\n`);
    writeText(res, 200, JSON_TYPE, `${JSON.stringify(memberJson(leader))}\n`);
  }

  /** Reads `{"peerURLs": [...], "isLearner": bool}`; answers 415/400 as etcd and returns undefined on error. */
  private async readMemberBody(req: http.IncomingMessage, res: http.ServerResponse): Promise<MemberRequest | undefined> {
    const contentType = req.headers['content-type'] ?? '';
    // A client that broke off is not answered (the caller closes its socket); a body over the limit reads as invalid.
    const text = await readBody(req, this.member.config.maxRequestBytes).then(
      (b) => b.toString('utf8'),
      (error: unknown) => {
        if (error instanceof RequestAborted) throw error;
        return undefined;
      },
    );
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
}

function memberJson(m: MemberInfo): V2Member {
  return { id: formatId(m.id), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, ...(m.isLearner ? { isLearner: true } : {}) };
}
