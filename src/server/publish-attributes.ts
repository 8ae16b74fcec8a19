import type { NodeId } from '../raft/types.ts';
import type { Logger } from './logger.ts';
import type { Timers } from './member-env.ts';
import { sleep } from './member-env.ts';
import type { MemberInfo } from './member-info.ts';
import type { Payload } from './payload.ts';

export interface PublishDeps {
  readonly selfId: NodeId;
  readonly name: string;
  readonly clientURLs: readonly string[];
  readonly timers: Timers;
  readonly log: Logger;
  readonly running: () => boolean;
  readonly self: () => MemberInfo | undefined;
  /** Whether the member has applied anything and knows a leader. */
  readonly settled: () => boolean;
  readonly propose: (data: Uint8Array) => void;
}

/** How often the attributes are proposed until the cluster has them. */
const PUBLISH_RETRY_MS = 1000;

/**
 * Tells the cluster this member's name and client URLs (etcd's "publish"), proposing them until
 * the applied membership shows them: from then on the cluster lists this member's client URLs.
 */
export async function publishAttributes(deps: PublishDeps): Promise<void> {
  const data = new TextEncoder().encode(JSON.stringify({ kind: 'attributes', member: deps.selfId, name: deps.name, clientURLs: [...deps.clientURLs] } satisfies Payload));
  const wanted = deps.clientURLs.join(',');
  while (deps.running()) {
    const mine = deps.self();
    if (mine !== undefined && mine.name === deps.name && mine.clientURLs.join(',') === wanted && deps.settled()) {
      deps.log.info("published this member's name and client URLs to the cluster", { name: deps.name, clientURLs: wanted });
      return;
    }
    deps.propose(data);
    await sleep(deps.timers, PUBLISH_RETRY_MS);
  }
}
