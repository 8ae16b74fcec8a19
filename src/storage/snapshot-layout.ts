import type { SnapshotMeta } from '../raft/types.ts';
import { readU64, record, writeU64 } from './codec.ts';

/**
 * The snapshot on disk:
 *   "m"                              metadata (index, term, configuration, slot, page and delta counts)
 *   "r" + u8(slot) + "h"             image head: u64be(index), then the state machine's head
 *   "r" + u8(slot) + "b" + u32be(n)  image base, page n: packed records (image.ts)
 *   "r" + u8(slot) + "d" + u32be(n)  image delta n: the records written and removed since the base
 *                                    and the deltas before it
 * Snapshots alternate between two slots, so that a new one is written beside the old and a small
 * metadata write switches to it.
 */
export const KEY_SNAPSHOT_META = Buffer.from('m');
export const IMAGE_PREFIX = 0x72; // 'r'
export const HEAD_KIND = 0x68; // 'h'
export const PAGE_KIND = 0x62; // 'b'
export const DELTA_KIND = 0x64; // 'd'

export interface StoredSnapshotMeta extends SnapshotMeta {
  /** Which of the two slots holds the image. */
  readonly slot: number;
  /** The image's base pages and deltas, and their sizes in bytes. */
  readonly image: ImageShape;
}

export interface ImageShape {
  readonly pages: number;
  readonly baseBytes: number;
  readonly deltas: number;
  readonly deltaBytes: number;
}

/** The key of the image head in `slot`. */
export function imageHeadKey(slot: number): Buffer {
  return Buffer.from([IMAGE_PREFIX, slot, HEAD_KIND]);
}

/** The key of page `n` of the image base in `slot`. */
export function imagePageKey(slot: number, n: number): Buffer {
  return numberedKey(slot, PAGE_KIND, n);
}

/** The key of delta `n` of the image in `slot`. */
export function imageDeltaKey(slot: number, n: number): Buffer {
  return numberedKey(slot, DELTA_KIND, n);
}

function numberedKey(slot: number, kind: number, n: number): Buffer {
  const key = Buffer.allocUnsafe(7);
  key[0] = IMAGE_PREFIX;
  key[1] = slot;
  key[2] = kind;
  key.writeUInt32BE(n, 3);
  return key;
}

/** What an image row is, for a refusal: "head", "base page 3", "delta 0". */
export function describeImageKey(key: Buffer): string {
  if (key[2] === HEAD_KIND) return 'head';
  return `${key[2] === PAGE_KIND ? 'base page' : 'delta'} ${key.length === 7 ? key.readUInt32BE(3) : '?'}`;
}

/** Every key of the image in `slot`: [gte, lt). */
export function imageRange(slot: number): { gte: Buffer; lt: Buffer } {
  return { gte: Buffer.from([IMAGE_PREFIX, slot]), lt: Buffer.from([IMAGE_PREFIX, slot + 1]) };
}

/** An image head row's payload: the snapshot index it belongs to, then the state machine's head. */
export function encodeImageHead(index: number, head: Uint8Array): Buffer {
  const payload = Buffer.allocUnsafe(8 + head.length);
  writeU64(payload, 0, index);
  payload.set(head, 8);
  return record(payload);
}

export function decodeImageHead(payload: Buffer): { index: number; head: Buffer } | undefined {
  if (payload.length < 8) return undefined;
  return { index: readU64(payload, 0), head: payload.subarray(8) };
}
