import type http from 'node:http';

/**
 * How far a watch stream's client is behind: bytes written for it that its socket has not yet
 * flushed to the kernel (the socket's buffer, and the response's own while it has no socket).
 * A client that never reads would make them grow with every write, and hold every event sent to
 * it in memory; past the limit the stream is ended, as etcd drops a watcher whose buffer is full.
 *
 * The events a stream replays from the history at its start are allowed on top of the limit
 * (they are bounded by the history). The allowance then follows the backlog down: a client is
 * ended once it falls more than `limit` bytes behind the best it has done.
 */
export class StreamBacklog {
  private readonly response: http.ServerResponse;
  private readonly limit: number;
  /** Undefined while the stream replays the history: nothing counts yet. */
  private allowance: number | undefined;

  constructor(response: http.ServerResponse, limit: number) {
    this.response = response;
    this.limit = limit;
  }

  /** A response's writableLength counts its own buffers and its socket's. */
  get bytes(): number {
    return this.response.writableLength;
  }

  /** The replay from the history is written: what of it is still unflushed does not count. */
  replayed(): void {
    this.allowance = this.bytes + this.limit;
  }

  /** Whether the client is too far behind for another event; checked before each is written. */
  exceeded(): boolean {
    if (this.allowance === undefined) return false;
    const bytes = this.bytes;
    if (bytes > this.allowance) return true;
    this.allowance = Math.max(this.limit, Math.min(this.allowance, bytes + this.limit));
    return false;
  }
}
