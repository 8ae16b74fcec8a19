import { isUnavailableCode } from '../api/error-code.ts';
import { EtcdError, UnavailableError } from './errors.ts';
import type { HttpTransport } from './http-transport.ts';
import { MembersClient } from './members-client.ts';

/** How many of the cluster's voting members answer at all, and how many a commit needs. */
export interface QuorumCount {
  readonly voters: number;
  readonly answering: number;
  readonly quorum: number;
}

/** A failure that may come from a lost quorum: no endpoint answered, or a 3xx (raft) error. */
export function mayBeQuorumLoss(error: unknown): boolean {
  return error instanceof UnavailableError || (error instanceof EtcdError && isUnavailableCode(error.errorCode));
}

/**
 * Counts the voting members that answer: the member list from any endpoint that answers, then
 * GET /health on each member's first client URL (any HTTP answer counts, healthy or not).
 * Undefined when no endpoint gives the member list.
 */
export async function countAnswering(transport: HttpTransport, timeoutMs: number): Promise<QuorumCount | undefined> {
  const quick = transport.withTimeout(timeoutMs);
  try {
    const members = await new MembersClient(quick, timeoutMs).list().catch(() => undefined);
    if (members === undefined) return undefined;
    const voters = members.filter((member) => member.isLearner !== true);
    const answered = await Promise.all(voters.map((member) => answers(quick, member.clientURLs[0])));
    return { voters: voters.length, answering: answered.filter(Boolean).length, quorum: Math.floor(voters.length / 2) + 1 };
  } finally {
    quick.close();
  }
}

async function answers(transport: HttpTransport, url: string | undefined): Promise<boolean> {
  if (url === undefined) return false;
  const direct = transport.single(url);
  try {
    await direct.request({ method: 'GET', path: '/health', idempotent: true });
    return true;
  } catch {
    return false;
  } finally {
    direct.close();
  }
}
