import type { ServeConfig } from './config.ts';
import type { Membership } from './member-env.ts';
import { formatId } from './member-id.ts';
import { StartError } from './member-start.ts';
import type { Outbound } from './outbound.ts';
import { decodePeerMembers } from './peer-members.ts';

/**
 * --initial-cluster-state existing: ask the members in --initial-cluster for the membership;
 * this member must have been added (kvctl member add) under one of its peer URLs.
 */
export async function joinExisting(config: ServeConfig, outbound: Outbound): Promise<Membership> {
  const failures: string[] = [];
  for (const [name, peerURLs] of config.initialCluster) {
    if (name === config.name) continue;
    for (const url of peerURLs) {
      try {
        const answer = await outbound.getJsonAnswer(new URL('/members', url), 3000);
        const record = decodePeerMembers(answer.body, answer.headers);
        const self = record.members.find((m) => m.peerURLs.some((u) => config.advertisePeerUrls.includes(u)));
        if (self === undefined) {
          throw new StartError(`cluster ${formatId(record.clusterId)} has no member with peer URL ${config.advertisePeerUrls.join(',')}: add it first (kvctl member add ${config.name} ${config.advertisePeerUrls.join(',')})`);
        }
        return { clusterId: record.clusterId, members: record.members, selfId: self.id };
      } catch (error) {
        if (error instanceof StartError) throw error;
        failures.push(`${url}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  throw new StartError(`cannot join the existing cluster: no member in --initial-cluster answered (${failures.join('; ') || 'none listed besides this member'})`);
}
