import { ErrorCode } from '../api/error-code.ts';
import { EtcdError } from './errors.ts';
import { isAtOrBelow } from './export-format.ts';
import type { KeysClient } from './keys-client.ts';
import { remainingTtl } from './tree-writer.ts';

interface Copied {
  readonly sourceKey: string;
  /** The source's expiration time of the key when it was copied or last extended (ms). */
  expiresAt: number;
}

export interface TtlKeeperOptions {
  /** How long before a copy expires its source is read again. */
  readonly marginMs: number;
  readonly now: () => number;
  readonly warn: (message: string) => void;
}

/**
 * Keeps the copies of TTL keys alive while their source keys are kept alive. A refresh
 * (`refresh=true`) changes a key's expiration without an event, so a mirror that only follows
 * events would let the copy expire early. Shortly before a copy expires, the keeper reads the key
 * from the source and, when its expiration has moved, extends the copy the same way (a refresh,
 * which no watcher of the target sees either).
 */
export class TtlKeeper {
  private readonly source: Pick<KeysClient, 'get'>;
  private readonly target: Pick<KeysClient, 'refresh'>;
  private readonly options: TtlKeeperOptions;
  /** By target key: the files with a TTL that were copied. */
  private readonly copies = new Map<string, Copied>();
  private checking = false;

  constructor(source: Pick<KeysClient, 'get'>, target: Pick<KeysClient, 'refresh'>, options: TtlKeeperOptions) {
    this.source = source;
    this.target = target;
    this.options = options;
  }

  /** Records what was just written to `targetKey`: a file with this expiration, or something else. */
  track(targetKey: string, sourceKey: string, isFile: boolean, expiration: string | undefined): void {
    if (isFile && expiration !== undefined) this.copies.set(targetKey, { sourceKey, expiresAt: Date.parse(expiration) });
    else this.copies.delete(targetKey);
  }

  /** `targetKey` and everything below it are gone. */
  forget(targetKey: string): void {
    for (const key of this.copies.keys()) if (isAtOrBelow(key, targetKey)) this.copies.delete(key);
  }

  clear(): void {
    this.copies.clear();
  }

  /** Extends every copy that expires within the margin and whose source was refreshed; one round at a time. */
  async extendDue(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const due = this.options.now() + this.options.marginMs;
      for (const [targetKey, copy] of [...this.copies]) if (copy.expiresAt <= due) await this.extend(targetKey, copy);
    } finally {
      this.checking = false;
    }
  }

  private async extend(targetKey: string, copy: Copied): Promise<void> {
    try {
      const { event } = await this.source.get(copy.sourceKey, { quorum: true });
      const expiration = event.node?.expiration;
      // Made permanent: the mirror's event for it takes it from here.
      if (expiration === undefined) return void this.copies.delete(targetKey);
      if (Date.parse(expiration) <= copy.expiresAt) {
        // Not refreshed (yet): look again next time, until the source has had time to expire it.
        if (this.options.now() > copy.expiresAt + this.options.marginMs) this.copies.delete(targetKey);
        return;
      }
      const ttl = remainingTtl(expiration, this.options.now());
      if (ttl === undefined || ttl === 0) return;
      await this.target.refresh(targetKey, ttl);
      copy.expiresAt = Date.parse(expiration);
    } catch (error) {
      if (error instanceof EtcdError && error.errorCode === ErrorCode.KeyNotFound) this.copies.delete(targetKey);
      else this.options.warn(`could not extend the TTL of ${targetKey}: ${(error as Error).message}`);
    }
  }
}
