import type { IncomingHttpHeaders } from 'node:http';
import type { MemberInfo } from './member-info.ts';
import { parseId } from './member-id.ts';
import { decodeMemberInfo } from './payload.ts';

/**
 * The peer listener's `GET /members`, as etcd answers it: a bare JSON array of the members by id,
 * each `{"id": <number>, "peerURLs", "isLearner"?, "name", "clientURLs"}` (etcd's field order),
 * with the cluster id in `X-Etcd-Cluster-Id`. A joining member (--initial-cluster-state existing),
 * a proxy and etcd's own v2 proxy read it. kvd before this shape answered an object
 * `{"clusterId", "members"}`; `decodePeerMembers` reads both, so that members of both versions mix.
 */
export function encodePeerMembers(members: Iterable<MemberInfo>): string {
  const sorted = [...members].sort((a, b) => a.id - b.id);
  return JSON.stringify(sorted.map((m) => ({ id: m.id, peerURLs: m.peerURLs, ...(m.isLearner === true ? { isLearner: true } : {}), name: m.name, clientURLs: m.clientURLs })));
}

/** The members and the cluster id a peer answered; throws when the answer is not one. */
export function decodePeerMembers(body: unknown, headers: IncomingHttpHeaders): { clusterId: number; members: MemberInfo[] } {
  if (Array.isArray(body)) {
    const clusterId = parseId(String(headers['x-etcd-cluster-id'] ?? ''));
    if (clusterId === undefined) throw new Error('answered no valid X-Etcd-Cluster-Id');
    return { clusterId, members: body.map(decodeMemberInfo) };
  }
  const record = body as { clusterId?: unknown; members?: unknown } | null;
  if (typeof record?.clusterId !== 'number' || !Array.isArray(record.members)) throw new Error('answered something that is not a member list');
  return { clusterId: record.clusterId, members: record.members.map(decodeMemberInfo) };
}
