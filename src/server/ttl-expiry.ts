import type { Store } from '../store/store.ts';
import type { Clock } from './member-env.ts';
import type { Payload } from './payload.ts';

/** How often the leader looks for keys whose TTL has run out. */
export const EXPIRY_SWEEP_MS = 500;

const encoder = new TextEncoder();

/**
 * TTL expiry, as etcd v2 does it: only the leader reads its clock, and proposes that time when a
 * key may have expired; every member deletes the keys expired at that time when it applies the
 * entry, so all expire the same keys at the same point of the log whatever their own clocks say.
 * Returns the proposal to make, if any.
 */
export function expiryProposal(isLeader: boolean, store: Store, clock: Clock): Uint8Array | undefined {
  if (!isLeader) return undefined;
  const next = store.nextExpireTime();
  const now = clock.now();
  if (next === undefined || next > now) return undefined;
  return encoder.encode(JSON.stringify({ kind: 'expire', time: now } satisfies Payload));
}
