import type { V2Node } from '../../src/api/wire.ts';

/** One node of a tree as tests compare them: indexes and remaining seconds left out. */
export interface TreeEntry {
  readonly key: string;
  readonly value?: string;
  readonly dir?: true;
  /** Whether the node has a TTL. */
  readonly expires: boolean;
}

/**
 * The tree below `key` (not the key itself) from a recursive linearizable GET, keys made relative
 * to `key`, sorted: what two trees must share to be equal. Empty when the key does not exist.
 */
export async function treeBelow(endpoint: string, key: string): Promise<TreeEntry[]> {
  const response = await fetch(`${endpoint}/v2/keys${key === '/' ? '/' : key}?recursive=true&sorted=true&quorum=true`);
  const body = (await response.json()) as { node?: V2Node; errorCode?: number };
  if (body.errorCode === 100) return [];
  if (body.node === undefined) throw new Error(`GET ${key} on ${endpoint}: ${JSON.stringify(body)}`);
  const entries: TreeEntry[] = [];
  const strip = key === '/' ? 0 : key.length;
  const visit = (node: V2Node): void => {
    for (const child of node.nodes ?? []) {
      const relative = child.key!.slice(strip);
      entries.push(child.dir ? { key: relative, dir: true, expires: child.ttl !== undefined } : { key: relative, value: child.value ?? '', expires: child.ttl !== undefined });
      visit(child);
    }
  };
  visit(body.node);
  return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Sends one keys-API request and returns the parsed body (throws on a transport failure only). */
export async function keys(endpoint: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', key: string, params: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const query = new URLSearchParams(params).toString();
  const url = `${endpoint}/v2/keys${key}`;
  const response = method === 'PUT' || method === 'POST'
    ? await fetch(url, { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query })
    : await fetch(query === '' ? url : `${url}?${query}`, { method });
  return (await response.json()) as Record<string, unknown>;
}

/** The expiration time (ms since the epoch) of `key` on `endpoint`; throws if it has none (expired?). */
export async function expirationOf(endpoint: string, key: string): Promise<number> {
  const body = await keys(endpoint, 'GET', key);
  const expiration = (body.node as { expiration?: string } | undefined)?.expiration;
  if (expiration === undefined) throw new Error(`${key} on ${endpoint} has no expiration (expired?): ${JSON.stringify(body)}`);
  return Date.parse(expiration);
}

/** Polls `condition` every 50 ms until it holds; throws with `what` after `timeoutMs`. */
export async function waitUntil(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
