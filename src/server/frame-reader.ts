/** A frame whose length is over the limit: refused from its 4-byte length, before its bytes arrive. */
export class FrameTooLarge extends RangeError {}

/**
 * Splits a byte stream of frames (u32be length, then that many bytes) into frames, whatever the
 * chunks' boundaries. Each chunk is kept as it came and a frame is joined once, when complete:
 * the cost is linear in the bytes, however small the chunks (joining the pending bytes again on
 * every chunk was quadratic: a 30 MiB frame in 64 KiB chunks stalled the event loop for seconds).
 */
export class FrameReader {
  private readonly maxFrameBytes: number;
  /** The length prefix as far as it has arrived. */
  private readonly header = Buffer.alloc(4);
  private headerBytes = 0;
  /** The current frame's length, once its prefix is complete. */
  private expected: number | undefined;
  private parts: Buffer[] = [];
  private partBytes = 0;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** The bytes held for the frame not yet complete (its length prefix and what came of it). */
  get pendingBytes(): number {
    return this.headerBytes + this.partBytes;
  }

  /** The frames that `chunk` completes, in order; throws FrameTooLarge for a length over the limit. */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.expected === undefined) {
        const take = Math.min(4 - this.headerBytes, chunk.length - at);
        chunk.copy(this.header, this.headerBytes, at, at + take);
        this.headerBytes += take;
        at += take;
        if (this.headerBytes < 4) break;
        this.expected = this.header.readUInt32BE(0);
        if (this.expected > this.maxFrameBytes) throw new FrameTooLarge(`peer frame of ${this.expected} bytes is over the limit of ${this.maxFrameBytes}`);
      }
      const take = Math.min(this.expected - this.partBytes, chunk.length - at);
      if (take > 0) this.parts.push(chunk.subarray(at, at + take));
      this.partBytes += take;
      at += take;
      if (this.partBytes < this.expected) break;
      frames.push(this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.expected));
      this.expected = undefined;
      this.headerBytes = 0;
      this.parts = [];
      this.partBytes = 0;
    }
    return frames;
  }
}
