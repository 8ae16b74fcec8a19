import type { NodeId } from '../raft/types.ts';
import { isPeerUrls } from './payload.ts';

/** At most this many senders are remembered at once (the oldest goes first). */
const MAX_REMOTES = 16;

/**
 * Peers that are not members as far as this member has applied, but send as members of its
 * cluster with their peer URLs (etcd's X-PeerURLs and AddRemote): a member added while this one
 * was down, which may even lead by now. Without them a returning member drops its leader's
 * messages and has no URL to answer it on, and waits for a leader for ever. A removed member is
 * never admitted, and a remote is only ever answered: the membership still comes from the log.
 */
export class PeerRemotes {
  private readonly remotes = new Map<NodeId, readonly string[]>();

  /**
   * Whether messages from `from` may reach Raft: a member, or a sender that is neither a member nor
   * removed and says which dialable peer URLs it has (remembered, so that it can be answered).
   */
  admit(from: NodeId, peerURLs: readonly string[] | undefined, member: boolean, removed: boolean): boolean {
    if (member) return true;
    if (removed) return false;
    // A stream's frames come with the one list its request gave: checked and kept at the first.
    if (peerURLs !== undefined && this.remotes.get(from) === peerURLs) return true;
    if (!isPeerUrls(peerURLs)) return false;
    this.remotes.delete(from);
    this.remotes.set(from, peerURLs);
    if (this.remotes.size > MAX_REMOTES) this.remotes.delete(this.remotes.keys().next().value!);
    return true;
  }

  urlsOf(id: NodeId): readonly string[] | undefined {
    return this.remotes.get(id);
  }
}
