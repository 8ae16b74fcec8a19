import type { ConfState, Entry, Message, MessageType, NodeId, Snapshot, SnapshotMeta } from '../raft/types.ts';
import { isLocalMessage } from '../raft/types.ts';

/**
 * The peer wire format: a batch of Raft messages in one binary frame (no JSON on the peer path).
 *   u32 count, then per message: u8 type, f64 from, to, term, logTerm, index, commit, rejectHint,
 *   u8 reject, u32 context length + UTF-8, u32 entry count + entries (f64 term, f64 index, u8 type,
 *   u32 length + data), u8 has-snapshot [+ u32 meta JSON length + JSON, u32 data length + data].
 * Numbers are float64: Raft's indexes and ids are safe integers, which float64 holds exactly.
 *
 * A frame comes from the network: decoding validates every field before a message can reach Raft
 * (see decodeMessages).
 */
const TYPES: readonly MessageType[] = [
  'hup', 'beat', 'checkQuorum', 'prop', 'app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp',
  'snap', 'heartbeat', 'heartbeatResp', 'unreachable', 'snapStatus', 'transferLeader', 'timeoutNow', 'readIndex', 'readIndexResp',
];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i] as const));
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Terms, indexes, commit indexes, hints and member ids are integers below this (exact in float64). */
const MAX_INTEGER = 2 ** 53;
/** Contexts are read ids ("<member id>-r<n>") and "transfer": short. */
const MAX_CONTEXT_BYTES = 256;

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

/**
 * Decodes a frame; throws RangeError on anything malformed (the sender gets a 400): a kind that
 * is unknown or only ever local, a number that is not an integer in range, an entry type, a flag
 * or a context that is not one of the valid ones, a snapshot meta that is not exactly one.
 */
export function decodeMessages(frame: Buffer): Message[] {
  const r = new Reader(frame);
  const count = r.u32();
  const out: Message[] = [];
  for (let i = 0; i < count; i++) out.push(checkShape(readMessage(r)));
  if (!r.atEnd) throw new RangeError('peer frame: trailing bytes');
  return out;
}

function readMessage(r: Reader): Message {
  const type = TYPES[r.u8()];
  if (type === undefined) throw new RangeError('peer frame: unknown message type');
  if (isLocalMessage(type)) throw new RangeError(`peer frame: ${type} is a local message and never comes from a peer`);
  const from = id('from', r.f64());
  const to = id('to', r.f64());
  const term = integer('term', r.f64());
  const logTerm = integer('logTerm', r.f64());
  const index = integer('index', r.f64());
  const commit = integer('commit', r.f64());
  const rejectHint = integer('rejectHint', r.f64());
  const reject = flag('reject', r.u8());
  const contextBytes = r.bytes();
  if (contextBytes.length > MAX_CONTEXT_BYTES) throw new RangeError('peer frame: context too long');
  const context = text('context', contextBytes);
  const entryCount = r.u32();
  const entries: Entry[] = [];
  for (let j = 0; j < entryCount; j++) {
    const eTerm = integer('entry term', r.f64());
    const eIndex = integer('entry index', r.f64());
    const eType = r.u8();
    if (eType > 1) throw new RangeError('peer frame: unknown entry type');
    entries.push({ term: eTerm, index: eIndex, type: eType === 1 ? 'confChange' : 'normal', data: r.bytes() });
  }
  let snapshot: Snapshot | undefined;
  if (flag('has-snapshot', r.u8())) snapshot = { meta: snapshotMeta(r.bytes()), data: r.bytes() };
  return { type, from, to, term, logTerm, index, commit, rejectHint, reject, context, entries, ...(snapshot ? { snapshot } : {}) };
}

/** What each kind must carry: entries only in appends and proposals, a snapshot exactly in snap. */
function checkShape(m: Message): Message {
  if ((m.type === 'snap') !== (m.snapshot !== undefined)) throw new RangeError(`peer frame: ${m.type} ${m.type === 'snap' ? 'without' : 'with'} a snapshot`);
  if (m.type === 'prop' && m.entries.length === 0) throw new RangeError('peer frame: a proposal without entries');
  if (m.type !== 'prop' && m.type !== 'app' && m.entries.length > 0) throw new RangeError(`peer frame: ${m.type} with entries`);
  if (m.type === 'app') {
    // The entries follow the one at m.index, in order, none of a term after the leader's (§5.3).
    m.entries.forEach((entry, i) => {
      if (entry.index !== m.index + 1 + i || entry.term > m.term) throw new RangeError('peer frame: append entries out of order');
    });
  }
  return m;
}

function integer(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value >= MAX_INTEGER) throw new RangeError(`peer frame: ${field} is not an integer in [0, 2^53)`);
  return value;
}

/** A member id: a positive integer below 2^53. */
function id(field: string, value: number): NodeId {
  if (integer(field, value) === 0) throw new RangeError(`peer frame: ${field} is not a member id`);
  return value;
}

function flag(field: string, value: number): boolean {
  if (value > 1) throw new RangeError(`peer frame: ${field} is neither 0 nor 1`);
  return value === 1;
}

function text(field: string, bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new RangeError(`peer frame: ${field} is not UTF-8`);
  }
}

/** The snapshot meta JSON, field by field: {index, term, confState: {voters, learners}}. */
function snapshotMeta(bytes: Uint8Array): SnapshotMeta {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text('snapshot meta', bytes));
  } catch {
    throw new RangeError('peer frame: snapshot meta is not JSON');
  }
  const meta = parsed as { index?: unknown; term?: unknown; confState?: { voters?: unknown; learners?: unknown } } | null;
  if (typeof meta !== 'object' || meta === null || typeof meta.confState !== 'object' || meta.confState === null) throw new RangeError('peer frame: snapshot meta is malformed');
  const confState: ConfState = { voters: ids('voters', meta.confState.voters), learners: ids('learners', meta.confState.learners) };
  if (confState.voters.length === 0) throw new RangeError('peer frame: snapshot meta has no voters');
  if (new Set([...confState.voters, ...confState.learners]).size !== confState.voters.length + confState.learners.length) throw new RangeError('peer frame: snapshot meta repeats a member');
  return { index: integer('snapshot index', numberOf(meta.index)), term: integer('snapshot term', numberOf(meta.term)), confState };
}

function numberOf(value: unknown): number {
  return typeof value === 'number' ? value : NaN;
}

function ids(field: string, value: unknown): NodeId[] {
  if (!Array.isArray(value)) throw new RangeError(`peer frame: snapshot meta ${field} is not a list`);
  return value.map((v: unknown) => id(`snapshot meta ${field}`, numberOf(v)));
}
