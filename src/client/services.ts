import { ErrorCode } from '../api/error-code.ts';
import { EtcdError } from './errors.ts';
import type { KeysClient } from './keys-client.ts';
import { Lease } from './lease.ts';
import { childrenInOrder } from './turn.ts';

/** Where `kvctl register` puts services unless told otherwise: visible, so curl users find them. */
export const SERVICES_DIR = '/services';
/** kvctl's own hidden bookkeeping (lock lines, elections, round-robin counters). */
export const KVCTL_DIR = '/_kvctl';

/** One live instance of a service: a TTL key `<prefix>/<service>/<name>` holding its address. */
export interface Instance {
  readonly name: string;
  readonly address: string;
  readonly key: string;
  readonly ttl?: number;
}

export function serviceDir(prefix: string, service: string): string {
  return `${prefix.replace(/\/+$/, '')}/${service}`;
}

/** The live instances of a service, by name; none when the service was never registered. */
export async function listInstances(client: Pick<KeysClient, 'get'>, dir: string, quorum: boolean): Promise<{ instances: Instance[]; etcdIndex: number }> {
  const { children, etcdIndex } = await childrenInOrder(client, dir, quorum);
  const instances = children.map((n) => ({ name: n.key!.slice(n.key!.lastIndexOf('/') + 1), address: n.value ?? '', key: n.key!, ...(n.ttl !== undefined ? { ttl: n.ttl } : {}) }));
  return { instances, etcdIndex };
}

/**
 * Registers an instance: writes its key with a TTL and keeps it alive; if it expired anyway (the
 * member was cut off for longer than the TTL), it is written again. The caller closes the lease
 * and deletes the key when the instance goes away.
 */
export async function registerInstance(client: Pick<KeysClient, 'set' | 'refresh'>, key: string, address: string, ttlSeconds: number, warn: (message: string) => void): Promise<Lease> {
  const write = async (): Promise<void> => {
    await client.set(key, address, { ttl: ttlSeconds });
  };
  const sentAt = Date.now();
  await write();
  const lease = new Lease(client, key, { ttlSeconds, recreate: write, warn });
  lease.start(sentAt);
  return lease;
}

/**
 * Round-robin across every client of the cluster: a shared counter per service, advanced with
 * compare-and-swap, picks the next instance in name order.
 */
export async function pickRoundRobin(client: Pick<KeysClient, 'get' | 'set'>, service: string, instances: readonly Instance[]): Promise<Instance> {
  const counter = `${KVCTL_DIR}/round-robin/${service}`;
  for (;;) {
    let current = 0;
    let index: number | undefined;
    try {
      const { event } = await client.get(counter, { quorum: true });
      current = Number(event.node?.value) || 0;
      index = event.node?.modifiedIndex;
    } catch (error) {
      if (!(error instanceof EtcdError && error.errorCode === ErrorCode.KeyNotFound)) throw error;
    }
    try {
      await client.set(counter, String(current + 1), index === undefined ? { prevExist: false } : { prevIndex: index });
      return instances[current % instances.length]!;
    } catch (error) {
      // Another client advanced it first: read it again.
      const raced = error instanceof EtcdError && (error.errorCode === ErrorCode.TestFailed || error.errorCode === ErrorCode.NodeExist || error.errorCode === ErrorCode.KeyNotFound);
      if (!raced) throw error;
    }
  }
}
