import { readFileSync } from 'node:fs';
import https from 'node:https';
import { waitUntil } from './trees.ts';

/** Files of a client certificate and the CA to trust, for members that serve https. */
export interface ClientTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** How many watches the members hold now: /v2/stats/store's "watchers" (etcd's too), summed over `endpoints` (comma-separated). */
export async function watcherCount(endpoints: string, tls?: ClientTls): Promise<number> {
  const counts = await Promise.all(endpoints.split(',').map(async (endpoint) => (JSON.parse(await getText(`${endpoint}/v2/stats/store`, tls)) as { watchers: number }).watchers));
  return counts.reduce((sum, count) => sum + count, 0);
}

/**
 * Resolves once the members hold at least `count` watches. A client that waits (a lock waiter, a
 * candidate behind the leader, a queue popper) does so in a watch: this is the event proving it
 * is parked, after which a test can assert that it did not go ahead.
 */
export async function waitForWatchers(endpoints: string, count: number, what: string, tls?: ClientTls): Promise<void> {
  await waitUntil(`${what} (${count} watch${count === 1 ? '' : 'es'} held)`, async () => (await watcherCount(endpoints, tls)) >= count);
}

async function getText(url: string, tls: ClientTls | undefined): Promise<string> {
  if (tls === undefined) return (await fetch(url)).text();
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body));
    });
    request.on('error', reject);
  });
}
