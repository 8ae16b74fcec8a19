import { DiskStorage } from '../storage/disk-storage.ts';
import type { ServeConfig } from './config.ts';
import type { Fatal } from './fail-stop.ts';
import { joinExisting } from './join-existing.ts';
import type { Logger } from './logger.ts';
import { Member } from './member.ts';
import { checkMembership } from './member-fsm.ts';
import type { MemberEnv } from './member-env.ts';
import { realClock, realTimers } from './member-env.ts';
import { Outbound } from './outbound.ts';
import { maxFrameBytesFor } from './peer-protocol.ts';
import { PeerTransport } from './peer-transport.ts';
import { upgradeBlob } from './store-image.ts';
import type { TlsMaterial } from './tls.ts';

/**
 * A member as `kvd serve` runs it: on its data dir (LevelDB), with the real clock and timers, and
 * its peers over HTTP (`peerTls` when their URLs are https). `fatal` is called once if it cannot go on.
 */
export async function startMember(config: ServeConfig, log: Logger, peerTls: TlsMaterial | undefined, fatal: Fatal): Promise<{ member: Member; peers: PeerTransport }> {
  const outbound = new Outbound(peerTls, 4);
  const storage = await DiskStorage.open(config.dataDir, { upgradeBlob: (blob) => upgradeBlob(blob, checkMembership) });
  let peers: PeerTransport | undefined;
  const env: MemberEnv = {
    clock: realClock,
    timers: realTimers,
    random: Math.random,
    log,
    fatal,
    transport: (host) => (peers = new PeerTransport(host, log, outbound, maxFrameBytesFor(config.maxRequestBytes))),
    join: (cluster) => joinExisting(cluster, outbound),
  };
  try {
    const member = await Member.start(config, env, storage);
    return { member, peers: peers! };
  } catch (error) {
    outbound.close();
    await storage.close();
    throw error;
  }
}
