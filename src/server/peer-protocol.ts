/** What the two ends of the peer transport agree on: the paths, and how big frames and snapshots may be. */

/** A long-lived POST of length-prefixed frames of messages. */
export const RAFT_PATH = '/raft';
/** A snapshot, on a POST of its own: a frame with the message (its data left out), then the data. */
export const SNAPSHOT_PATH = '/raft/snapshot';
/** GET: the members, for a member joining with --initial-cluster-state existing (and proxies). */
export const MEMBERS_PATH = '/members';
/** A sender starts a new frame once one holds this much (one message may make a frame bigger). */
export const FRAME_SPLIT_BYTES = 4 * 1024 * 1024;
/** The largest snapshot a member takes (streamed to a file in its data dir as it arrives). */
export const MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024;

/**
 * The largest frame a member takes: a frame holds FRAME_SPLIT_BYTES of messages, or one message
 * that is bigger: an append of one entry, which is at most a client request.
 */
export function maxFrameBytesFor(maxRequestBytes: number): number {
  return 4 * FRAME_SPLIT_BYTES + 2 * maxRequestBytes;
}
