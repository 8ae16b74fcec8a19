import { waitUntil } from './trees.ts';

/** How many watches the members hold now: /v2/stats/store's "watchers" (etcd's too), summed over `endpoints` (comma-separated). */
export async function watcherCount(endpoints: string): Promise<number> {
  const counts = await Promise.all(endpoints.split(',').map(async (endpoint) => ((await (await fetch(`${endpoint}/v2/stats/store`)).json()) as { watchers: number }).watchers));
  return counts.reduce((sum, count) => sum + count, 0);
}

/**
 * Resolves once the members hold at least `count` watches. A client that waits (a lock waiter, a
 * candidate behind the leader, a queue popper) does so in a watch: this is the event proving it
 * is parked, after which a test can assert that it did not go ahead.
 */
export async function waitForWatchers(endpoints: string, count: number, what: string): Promise<void> {
  await waitUntil(`${what} (${count} watch${count === 1 ? '' : 'es'} held)`, async () => (await watcherCount(endpoints)) >= count);
}
