import type { NodeId } from './types.ts';

/**
 * The highest index that a majority of `voters` has: the commit rule's arithmetic (section 5.3).
 * `matchOf` gives each voter's acknowledged index (0 if unknown). An empty set commits nothing.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[Math.floor(n / 2)]!;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** The outcome of an election given the votes so far (true: granted, false: rejected). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const majority = Math.floor(voters.length / 2) + 1;
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  if (granted >= majority) return 'won';
  if (voters.length - rejected < majority) return 'lost';
  return 'pending';
}
