import { ErrorCode } from '../api/error-code.ts';
import type { V2Event } from '../api/wire.ts';
import { EtcdError, ProtocolError, UnavailableError, isTransientError } from './errors.ts';
import type { KeysClient, KeysResult } from './keys-client.ts';

/** The events a watch waits for have left the server's history (etcd error 401). */
export class HistoryClearedError extends Error {
  readonly code = 'HISTORY_CLEARED';
  /** The first index the watch still needed. */
  readonly wanted: number;
  constructor(wanted: number, cause: string) {
    super(`the server's event history no longer reaches back to index ${wanted} (${cause}): events may have been missed`);
    this.name = 'HistoryClearedError';
    this.wanted = wanted;
  }
}

export interface WatcherOptions {
  readonly key: string;
  readonly recursive: boolean;
  /** Deliver events after this index; by default, those after the key's state when the watch starts. */
  readonly afterIndex?: number;
  /** How long one long poll waits before it is sent again (default 60 s). */
  readonly pollTimeoutMs?: number;
  /**
   * How many times in a row every endpoint may fail before the watch gives up (Infinity: never).
   * Between two rounds it waits, up to 5 s.
   */
  readonly retryRounds: number;
  readonly signal?: AbortSignal;
  /** Tells about a round of failures that the watcher will retry. */
  readonly warn?: (message: string) => void;
}

const NO_MORE_EVENTS = ['delete', 'expire', 'compareAndDelete'] as const;

/** Whether an event ends the watched key (it was deleted or expired). */
export function isRemoval(event: V2Event): boolean {
  return (NO_MORE_EVENTS as readonly string[]).includes(event.action);
}

/**
 * Watches a key with long polls re-armed at the index after the last event delivered. The
 * server answers a poll from its history when the event is already past, so no event between two
 * polls is missed, and none is delivered twice. A poll that fails moves to the next endpoint and
 * resumes from the same index.
 */
export class Watcher {
  private readonly client: Pick<KeysClient, 'get' | 'watch'>;
  private readonly options: WatcherOptions;
  private nextIndex: number | undefined;
  private highestServerIndex = 0;

  constructor(client: Pick<KeysClient, 'get' | 'watch'>, options: WatcherOptions) {
    this.client = client;
    this.options = options;
    if (options.afterIndex !== undefined) this.nextIndex = options.afterIndex + 1;
  }

  /** The next event; throws HistoryClearedError when events were lost to the server's history. */
  async next(): Promise<V2Event> {
    if (this.nextIndex === undefined) await this.resync();
    const result = await this.retrying(() => this.poll());
    const event = result.event;
    this.highestServerIndex = Math.max(this.highestServerIndex, result.etcdIndex);
    const index = event.node?.modifiedIndex;
    if (index === undefined || index < this.nextIndex!) throw new ProtocolError(`a watch at index ${this.nextIndex} was answered with an event at ${index}`);
    this.nextIndex = index + 1;
    return event;
  }

  /** One long poll at the next index, sent again at once when it times out with nothing to report (not a failure: the key was quiet). */
  private async poll(): Promise<KeysResult> {
    for (;;) {
      try {
        return await this.client.watch(this.options.key, {
          waitIndex: this.nextIndex!,
          recursive: this.options.recursive,
          pollTimeoutMs: this.options.pollTimeoutMs ?? 60_000,
          ...(this.options.signal ? { signal: this.options.signal } : {}),
        });
      } catch (error) {
        if (!(error instanceof UnavailableError && error.timedOut)) throw error;
      }
    }
  }

  /** The highest X-Etcd-Index the server answered with: how far its history had gone (0 before the first answer). */
  get serverIndex(): number {
    return this.highestServerIndex;
  }

  /**
   * Reads the key's current state and goes on from there: how a watch starts, and how it
   * continues after HistoryClearedError. Returns the state (undefined when the key is missing).
   */
  async resync(): Promise<V2Event | undefined> {
    try {
      const { event, etcdIndex } = await this.retrying(() => this.client.get(this.options.key, { recursive: this.options.recursive, sorted: true }));
      this.nextIndex = etcdIndex + 1;
      return event;
    } catch (error) {
      if (!(error instanceof EtcdError) || error.errorCode !== ErrorCode.KeyNotFound) throw error;
      this.nextIndex = error.index + 1;
      return undefined;
    }
  }

  private async retrying(send: () => Promise<KeysResult>): Promise<KeysResult> {
    for (let round = 1; ; round++) {
      try {
        return await send();
      } catch (error) {
        if (error instanceof EtcdError && error.errorCode === ErrorCode.EventIndexCleared) throw new HistoryClearedError(this.nextIndex ?? 0, error.cause ?? error.message);
        if (!isTransientError(error) || round > this.options.retryRounds) throw error;
        const delayMs = Math.min(5000, 250 * 2 ** (round - 1));
        this.options.warn?.(`watch: ${(error as Error).message}; trying again in ${delayMs} ms`);
        await sleep(delayMs, this.options.signal);
      }
    }
  }
}

/**
 * Resolves at the first change at or below `dir` after `afterIndex`, or when the server's history
 * no longer reaches back that far (the caller looks again either way).
 */
export async function nextChangeBelow(client: Pick<KeysClient, 'get' | 'watch'>, dir: string, afterIndex: number, signal: AbortSignal): Promise<void> {
  try {
    await new Watcher(client, { key: dir, recursive: true, afterIndex, retryRounds: Infinity, signal }).next();
  } catch (error) {
    if (!(error instanceof HistoryClearedError)) throw error;
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
