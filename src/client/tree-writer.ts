import { ErrorCode } from '../api/error-code.ts';
import { EtcdError } from './errors.ts';
import type { KeysClient } from './keys-client.ts';

/** create: never touch what exists (prevExist=false); replace: make the key exactly this node. */
export type WriteMode = 'create' | 'replace';

/**
 * written; exists (create mode: the key was there and was left alone); expired (its expiration has
 * passed: not written, and in replace mode removed); conflict (create mode: a directory where a file
 * goes, or a file above the key).
 */
export type WriteOutcome = 'written' | 'exists' | 'expired' | 'conflict';

export interface NodeToWrite {
  readonly value?: string;
  readonly dir?: true;
  readonly expiration?: string;
}

/** Whole seconds left until `expiration` (rounded up), 0 once it has passed; undefined: permanent. */
export function remainingTtl(expiration: string | undefined, nowMs: number): number | undefined {
  if (expiration === undefined) return undefined;
  return Math.max(0, Math.ceil((Date.parse(expiration) - nowMs) / 1000));
}

function isEtcdError(error: unknown, code: number): error is EtcdError {
  return error instanceof EtcdError && error.errorCode === code;
}

/** Writes nodes of a tree into a cluster with the v2 API: what import and mirror share. */
export class TreeWriter {
  private readonly client: Pick<KeysClient, 'get' | 'set' | 'delete'>;

  constructor(client: Pick<KeysClient, 'get' | 'set' | 'delete'>) {
    this.client = client;
  }

  async write(key: string, node: NodeToWrite, mode: WriteMode, nowMs: number): Promise<WriteOutcome> {
    const ttl = remainingTtl(node.expiration, nowMs);
    if (ttl === 0) {
      if (mode === 'replace') await this.remove(key);
      return 'expired';
    }
    const options = ttl === undefined ? {} : { ttl };
    if (mode === 'create') return this.create(key, node, options);
    // A file standing where a directory goes (or above the key) is removed: each turn removes one.
    for (;;) {
      try {
        if (node.dir) await this.replaceDir(key, options);
        else await this.client.set(key, node.value ?? '', options);
        return 'written';
      } catch (error) {
        if (isEtcdError(error, ErrorCode.NotFile)) await this.remove(key);
        else if (isEtcdError(error, ErrorCode.NotDir) && error.cause !== undefined && error.cause !== key) await this.remove(error.cause);
        else throw error;
      }
    }
  }

  /** Removes a key or a whole directory; a missing key is already removed. The root is emptied instead. */
  async remove(key: string): Promise<void> {
    if (key === '/') {
      const { event } = await this.client.get('/', { quorum: true });
      for (const child of event.node?.nodes ?? []) await this.remove(child.key!);
      return;
    }
    try {
      await this.client.delete(key, { recursive: true });
    } catch (error) {
      if (!isEtcdError(error, ErrorCode.KeyNotFound)) throw error;
    }
  }

  private async create(key: string, node: NodeToWrite, options: { ttl?: number }): Promise<WriteOutcome> {
    try {
      if (node.dir) await this.client.set(key, undefined, { ...options, dir: true, prevExist: false });
      else await this.client.set(key, node.value ?? '', { ...options, prevExist: false });
      return 'written';
    } catch (error) {
      if (isEtcdError(error, ErrorCode.NodeExist)) return 'exists';
      if (isEtcdError(error, ErrorCode.NotFile) || isEtcdError(error, ErrorCode.NotDir)) return 'conflict';
      throw error;
    }
  }

  /** A directory with exactly this TTL; a file in its place is removed (etcd would turn it into an empty file). */
  private async replaceDir(key: string, options: { ttl?: number }): Promise<void> {
    try {
      await this.client.set(key, undefined, { ...options, dir: true, prevExist: false });
      return;
    } catch (error) {
      if (!isEtcdError(error, ErrorCode.NodeExist)) throw error;
    }
    const { event } = await this.client.get(key, { quorum: true });
    if (!event.node?.dir) {
      await this.remove(key);
      await this.client.set(key, undefined, { ...options, dir: true, prevExist: false });
      return;
    }
    // An update without a ttl makes the directory permanent, as the node it copies.
    if (options.ttl !== undefined || event.node.expiration !== undefined) await this.client.set(key, undefined, { ...options, dir: true, prevExist: true });
  }
}
