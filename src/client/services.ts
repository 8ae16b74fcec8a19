import { ErrorCode } from '../api/error-code.ts';
import type { V2Node } from '../api/wire.ts';
import { EtcdError } from './errors.ts';
import type { KeysClient } from './keys-client.ts';
import { Lease, LeaseLostError } from './lease.ts';
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

/** Another live process holds the instance: its key exists and is not ours. */
export class InstanceTaken extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstanceTaken';
  }
}

/** A registered instance: its key kept alive by `lease`, until `deregister`. */
export interface Registration {
  readonly lease: Lease;
  /** Writes a new value (a progress report) to the key, if it is still the one this registration created. */
  update(value: string): Promise<void>;
  /** Stops the lease and deletes the key if it is still the one this registration created. */
  deregister(): Promise<void>;
}

type RegistryClient = Pick<KeysClient, 'get' | 'set' | 'refresh' | 'delete'>;

/**
 * Registers an instance: creates its key with a TTL (refused with InstanceTaken when another
 * process holds it) and keeps it alive; if it expired anyway (the member was cut off for longer
 * than the TTL), it is created again, unless another process took the name meanwhile: then the
 * lease is lost. The key is known as ours by its createdIndex, so that a registration never
 * deletes one it did not create.
 */
export async function registerInstance(client: RegistryClient, key: string, address: string, ttlSeconds: number, warn: (message: string) => void): Promise<Registration> {
  let createdIndex = 0;
  let value = address;
  const create = async (): Promise<void> => {
    try {
      const { event } = await client.set(key, value, { ttl: ttlSeconds, prevExist: false });
      createdIndex = event.node?.createdIndex ?? 0;
    } catch (error) {
      if (!(error instanceof EtcdError && error.errorCode === ErrorCode.NodeExist)) throw error;
      throw new InstanceTaken(`${key} is registered by another process: wait for it to stop (or its TTL to run out), or choose another instance name`);
    }
  };
  const sentAt = Date.now();
  await create();
  const recreate = (): Promise<void> =>
    create().catch((error: unknown) => {
      throw error instanceof InstanceTaken ? new LeaseLostError(`${key} expired, and another process registered that instance since`) : error;
    });
  const lease = new Lease(client, key, { ttlSeconds, recreate, warn });
  lease.start(sentAt);
  return {
    lease,
    update: async (next) => {
      value = next;
      const node = await nodeCreatedAt(client, key, createdIndex);
      if (node === undefined) throw new LeaseLostError(`${key} is no longer this registration's`);
      // Compare-and-swap: a registration that changed hands in between is left alone.
      await client.set(key, next, { ttl: ttlSeconds, prevIndex: node.modifiedIndex! });
    },
    deregister: async () => {
      lease.close();
      await deleteIfCreatedAt(client, key, createdIndex);
    },
  };
}

/** The node at `key` if it is the one created at `createdIndex`; undefined when it is gone or another. */
async function nodeCreatedAt(client: Pick<KeysClient, 'get'>, key: string, createdIndex: number): Promise<V2Node | undefined> {
  try {
    const { event } = await client.get(key, { quorum: true });
    return event.node?.createdIndex === createdIndex && event.node.modifiedIndex !== undefined ? event.node : undefined;
  } catch (error) {
    if (error instanceof EtcdError && error.errorCode === ErrorCode.KeyNotFound) return undefined;
    throw error;
  }
}

/** Deletes `key` if it is the node created at `createdIndex` (compare-and-delete on its modifiedIndex). */
async function deleteIfCreatedAt(client: Pick<KeysClient, 'get' | 'delete'>, key: string, createdIndex: number): Promise<void> {
  try {
    const node = await nodeCreatedAt(client, key, createdIndex);
    if (node === undefined) return;
    await client.delete(key, { prevIndex: node.modifiedIndex! });
  } catch (error) {
    // Gone, or changed hands between the read and the delete: not ours to delete.
    const notOurs = error instanceof EtcdError && (error.errorCode === ErrorCode.KeyNotFound || error.errorCode === ErrorCode.TestFailed);
    if (!notOurs) throw error;
  }
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
