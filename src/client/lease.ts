import { ErrorCode } from '../api/error-code.ts';
import { EtcdError } from './errors.ts';
import type { KeysClient } from './keys-client.ts';

/** Why a lease ended without being released: its key expired or was deleted on the server. */
export class LeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  constructor(message: string) {
    super(message);
    this.name = 'LeaseLostError';
  }
}

export interface LeaseOptions {
  readonly ttlSeconds: number;
  /**
   * What to do when the key is found gone: write it again (a service registration) instead of
   * losing the lease (a lock or election session, whose place in line cannot come back).
   */
  readonly recreate?: () => Promise<void>;
  /** Tells about refreshes that failed but may still succeed in time. */
  readonly warn?: (message: string) => void;
  readonly now?: () => number;
}

/**
 * Keeps a TTL key alive by refreshing it every TTL/3 (refresh=true: no watcher sees it). The
 * lease is lost as soon as the server says the key is gone, or when no refresh has been
 * confirmed for so long that the server may already have expired it: then `signal` aborts, so
 * that whoever relies on the key stops before someone else can take it over.
 */
export class Lease {
  readonly key: string;
  private readonly client: Pick<KeysClient, 'refresh'>;
  private readonly options: LeaseOptions;
  private readonly now: () => number;
  private readonly controller = new AbortController();
  private closed = false;
  private loopTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;

  constructor(client: Pick<KeysClient, 'refresh'>, key: string, options: LeaseOptions) {
    if (!(options.ttlSeconds >= 1)) throw new RangeError(`a lease needs a TTL of at least 1 second, not ${options.ttlSeconds}`);
    this.client = client;
    this.key = key;
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /** Aborted (with a LeaseLostError) when the lease is lost; never when it is closed. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private get ttlMs(): number {
    return this.options.ttlSeconds * 1000;
  }

  /** Starts refreshing; `writtenAt` is when the request that wrote the key was sent. */
  start(writtenAt: number): void {
    this.confirmed(writtenAt);
    this.schedule(this.ttlMs / 3);
  }

  /** Stops refreshing; the key is left to the caller (to delete, or to expire). */
  close(): void {
    this.closed = true;
    clearTimeout(this.loopTimer);
    clearTimeout(this.deadlineTimer);
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.signal.aborted) return;
    this.loopTimer = setTimeout(() => void this.refresh(), delayMs);
  }

  private async refresh(): Promise<void> {
    const sentAt = this.now();
    try {
      await this.client.refresh(this.key, this.options.ttlSeconds, { timeoutMs: Math.max(250, this.ttlMs / 3) });
      this.confirmed(sentAt);
      this.schedule(this.ttlMs / 3);
    } catch (error) {
      if (this.closed) return;
      if (error instanceof EtcdError && error.errorCode === ErrorCode.KeyNotFound) {
        if (this.options.recreate === undefined) return this.lose(`${this.key} expired or was deleted on the server`);
        this.options.warn?.(`${this.key} had expired; writing it again`);
        try {
          await this.options.recreate();
          this.confirmed(sentAt);
          this.schedule(this.ttlMs / 3);
          return;
        } catch (recreateError) {
          // The key cannot come back (another process holds it now): the lease is over.
          if (recreateError instanceof LeaseLostError) return this.lose(recreateError.message);
          this.options.warn?.(`could not write ${this.key} again: ${(recreateError as Error).message}`);
        }
      } else {
        this.options.warn?.(`refreshing ${this.key} failed (${(error as Error).message}); trying again`);
      }
      this.schedule(Math.min(500, this.ttlMs / 6));
    }
  }

  /**
   * The server expires the key no sooner than TTL after it received the last refresh, which was
   * after `sentAt`: up to a margin for clock drift, the key is ours until sentAt + TTL.
   */
  private confirmed(sentAt: number): void {
    // A lease that writes its key again has no deadline: it is never lost.
    if (this.closed || this.signal.aborted || this.options.recreate !== undefined) return;
    clearTimeout(this.deadlineTimer);
    const margin = Math.min(1000, this.ttlMs / 6);
    const left = sentAt + this.ttlMs - margin - this.now();
    this.deadlineTimer = setTimeout(() => this.lose(`no refresh of ${this.key} was confirmed within its TTL of ${this.options.ttlSeconds}s`), Math.max(0, left));
  }

  private lose(reason: string): void {
    if (this.closed || this.signal.aborted) return;
    clearTimeout(this.loopTimer);
    clearTimeout(this.deadlineTimer);
    this.controller.abort(new LeaseLostError(reason));
  }
}
