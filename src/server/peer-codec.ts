import type { Entry, Message, MessageType, Snapshot } from '../raft/types.ts';

/**
 * The peer wire format: a batch of Raft messages in one binary frame (no JSON on the peer path).
 *   u32 count, then per message: u8 type, f64 from, to, term, logTerm, index, commit, rejectHint,
 *   u8 reject, u32 context length + UTF-8, u32 entry count + entries (f64 term, f64 index, u8 type,
 *   u32 length + data), u8 has-snapshot [+ u32 meta JSON length + JSON, u32 data length + data].
 * Numbers are float64: Raft's indexes and ids are safe integers, which float64 holds exactly.
 */
const TYPES: readonly MessageType[] = [
  'hup', 'beat', 'checkQuorum', 'prop', 'app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp',
  'snap', 'heartbeat', 'heartbeatResp', 'unreachable', 'snapStatus', 'transferLeader', 'timeoutNow', 'readIndex', 'readIndexResp',
];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i] as const));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

class Writer {
  private buffer = Buffer.allocUnsafe(4096);
  private offset = 0;

  private reserve(n: number): void {
    if (this.offset + n <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + n));
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buffer[this.offset++] = v;
  }

  u32(v: number): void {
    this.reserve(4);
    this.buffer.writeUInt32BE(v, this.offset);
    this.offset += 4;
  }

  f64(v: number): void {
    this.reserve(8);
    this.buffer.writeDoubleBE(v, this.offset);
    this.offset += 8;
  }

  bytes(v: Uint8Array): void {
    this.u32(v.length);
    this.reserve(v.length);
    this.buffer.set(v, this.offset);
    this.offset += v.length;
  }

  done(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }
}

class Reader {
  private offset = 0;
  private readonly buffer: Buffer;

  constructor(buffer: Buffer) {
    this.buffer = buffer;
  }

  private need(n: number): void {
    if (this.offset + n > this.buffer.length) throw new RangeError('peer frame: truncated');
  }

  u8(): number {
    this.need(1);
    return this.buffer[this.offset++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.buffer.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }

  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const v = new Uint8Array(this.buffer.subarray(this.offset, this.offset + n));
    this.offset += n;
    return v;
  }

  get atEnd(): boolean {
    return this.offset === this.buffer.length;
  }
}

export function encodeMessages(messages: readonly Message[]): Buffer {
  const w = new Writer();
  w.u32(messages.length);
  for (const m of messages) {
    w.u8(TYPE_CODE.get(m.type)!);
    for (const n of [m.from, m.to, m.term, m.logTerm, m.index, m.commit, m.rejectHint]) w.f64(n);
    w.u8(m.reject ? 1 : 0);
    w.bytes(encoder.encode(m.context));
    w.u32(m.entries.length);
    for (const e of m.entries) {
      w.f64(e.term);
      w.f64(e.index);
      w.u8(e.type === 'confChange' ? 1 : 0);
      w.bytes(e.data);
    }
    if (m.snapshot === undefined) {
      w.u8(0);
    } else {
      w.u8(1);
      w.bytes(encoder.encode(JSON.stringify(m.snapshot.meta)));
      w.bytes(m.snapshot.data);
    }
  }
  return w.done();
}

/** Decodes a frame; throws RangeError on anything malformed (the sender gets a 400). */
export function decodeMessages(frame: Buffer): Message[] {
  const r = new Reader(frame);
  const count = r.u32();
  const out: Message[] = [];
  for (let i = 0; i < count; i++) {
    const type = TYPES[r.u8()];
    if (type === undefined) throw new RangeError('peer frame: unknown message type');
    const [from, to, term, logTerm, index, commit, rejectHint] = [r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64()] as const;
    const reject = r.u8() === 1;
    const context = decoder.decode(r.bytes());
    const entryCount = r.u32();
    const entries: Entry[] = [];
    for (let j = 0; j < entryCount; j++) {
      const eTerm = r.f64();
      const eIndex = r.f64();
      const eType = r.u8() === 1 ? 'confChange' : 'normal';
      entries.push({ term: eTerm, index: eIndex, type: eType, data: r.bytes() });
    }
    let snapshot: Snapshot | undefined;
    if (r.u8() === 1) {
      const meta = JSON.parse(decoder.decode(r.bytes())) as Snapshot['meta'];
      snapshot = { meta, data: r.bytes() };
    }
    out.push({ type, from, to, term, logTerm, index, commit, rejectHint, reject, context, entries, ...(snapshot ? { snapshot } : {}) });
  }
  if (!r.atEnd) throw new RangeError('peer frame: trailing bytes');
  return out;
}
