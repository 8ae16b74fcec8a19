import type { V2Member } from '../api/wire.ts';
import { jsonAnswer } from './json-answer.ts';
import { UnavailableError } from './errors.ts';
import type { HttpResponse } from './http-transport.ts';
import type { HttpTransport } from './http-transport.ts';

export type MemberJson = V2Member;

function parse<T>(response: HttpResponse, expected: readonly number[]): T {
  return jsonAnswer<T>(response, expected, 'a membership change needs a user with the root role (--user root)');
}

const json = (value: unknown) => ({ body: JSON.stringify(value), contentType: 'application/json' });

/** etcd's /v2/members API, with kvd's extensions for learners, promotion and leadership transfer. */
export class MembersClient {
  private readonly transport: HttpTransport;
  private readonly timeoutMs: number;

  constructor(transport: HttpTransport, timeoutMs: number) {
    this.transport = transport;
    this.timeoutMs = timeoutMs;
  }

  async list(): Promise<MemberJson[]> {
    const response = await this.transport.request({ method: 'GET', path: '/v2/members', idempotent: true });
    return parse<{ members: MemberJson[] }>(response, [200]).members;
  }

  /** The leader, or undefined during an election. */
  async leader(): Promise<MemberJson | undefined> {
    const response = await this.transport.request({ method: 'GET', path: '/v2/members/leader', idempotent: true });
    if (response.status === 503) return undefined;
    return parse<MemberJson>(response, [200]);
  }

  async add(peerURLs: readonly string[], isLearner: boolean): Promise<MemberJson> {
    const response = await this.transport.request({ method: 'POST', path: '/v2/members', ...json({ peerURLs, ...(isLearner ? { isLearner } : {}) }), idempotent: false });
    return parse<MemberJson>(response, [201]);
  }

  async remove(id: string): Promise<void> {
    parse(await this.transport.request({ method: 'DELETE', path: `/v2/members/${encodeURIComponent(id)}`, idempotent: false }), [204]);
  }

  async update(id: string, peerURLs: readonly string[]): Promise<void> {
    parse(await this.transport.request({ method: 'PUT', path: `/v2/members/${encodeURIComponent(id)}`, ...json({ peerURLs }), idempotent: true }), [204]);
  }

  /** Promotion and leadership transfer are decided by the leader: sent to its client URL. */
  async promote(id: string): Promise<MemberJson> {
    return this.toLeader(`/v2/members/${encodeURIComponent(id)}/promote`);
  }

  async transferLeadership(id: string): Promise<MemberJson> {
    return this.toLeader(`/v2/members/${encodeURIComponent(id)}/leader`);
  }

  private async toLeader(path: string): Promise<MemberJson> {
    const leader = await this.leader();
    const url = leader?.clientURLs[0];
    if (url === undefined) throw new UnavailableError('the cluster has no leader now');
    const direct = this.transport.single(url, this.timeoutMs);
    try {
      return parse<MemberJson>(await direct.request({ method: 'POST', path, idempotent: false }), [200]);
    } finally {
      direct.close();
    }
  }
}
