import assert from 'node:assert/strict';
import { DeltaOverlay, hashBytes } from '../../src/storage/delta-overlay.ts';

const bytes = (s: string) => Buffer.from(s, 'latin1');
const text = (b: Buffer | null | undefined) => (b == null ? b : b.toString('latin1'));

/** A seeded generator (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The merge's rules, on a string Map: what DeltaOverlay must do. */
function model(ops: ReadonlyArray<readonly [string, string | null]>, probes: readonly string[]): { taken: Array<string | null | undefined>; rest: string[] } {
  const latest = new Map<string, string | null>();
  for (const [key, value] of ops) latest.set(key, value);
  const taken = probes.map((key) => {
    if (!latest.has(key)) return undefined;
    const value = latest.get(key)!;
    latest.delete(key);
    return value;
  });
  return { taken, rest: [...latest].filter(([, value]) => value !== null).map(([key, value]) => `${key}=${value}`) };
}

function run(ops: ReadonlyArray<readonly [string, string | null]>, probes: readonly string[]): { taken: Array<string | null | undefined>; rest: string[] } {
  const overlay = new DeltaOverlay();
  for (const [key, value] of ops) overlay.set(bytes(key), value === null ? null : bytes(value));
  const taken = probes.map((key) => {
    const slot = overlay.take(bytes(key));
    return slot === undefined ? undefined : text(slot.value);
  });
  return { taken, rest: [...overlay.untaken()].map(([key, value]) => `${text(key)}=${text(value)}`) };
}

/**
 * Pairs of 8-byte blocks that take FNV-1a to one state, each pair from the state the previous
 * pair ends in (found once with a birthday search over random blocks). FNV-1a is iterated on its
 * state alone, so choosing a block of each pair gives 2^pairs distinct keys with one hash.
 */
const COLLIDING_BLOCKS = [
  ['gdyf49yj', 's1mzc5ar'],
  ['w9y30ta3', 'wli3g9uf'],
  ['slyzs5ab', '0duzk56v'],
  ['s5ub0lmr', 'ctifktin'],
  ['w1m305i7', '4tq3c1uj'],
  ['w5en8xar', 'spe74paz'],
  ['6jwtibsd', '6jkhyfcx'],
] as const;

function collidingKeys(): string[] {
  let keys = [''];
  for (const [a, b] of COLLIDING_BLOCKS) keys = keys.flatMap((k) => [k + a, k + b]);
  return keys;
}

describe('DeltaOverlay (the deltas of a snapshot image, merged into its base at load)', () => {
  it('keeps the latest value of each key, takes each once, and leaves the rest in first-seen order without removals (200 seeded runs against a Map)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const next = random(seed);
      const keys = Array.from({ length: 1 + Math.floor(next() * 40) }, (_, i) => `/dir/k${i}`);
      const pick = () => keys[Math.floor(next() * keys.length)]!;
      const ops = Array.from({ length: Math.floor(next() * 80) }, (_, i) => [pick(), next() < 0.2 ? null : `v${i}`] as const);
      const probes = Array.from({ length: Math.floor(next() * 60) }, pick);
      assert.deepEqual(run(ops, probes), model(ops, probes), `seed ${seed}`);
    }
  });

  it('stays right as its table grows (5,000 keys, each set twice, half of them removed)', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `/bench/k${i}`);
    const ops = [...keys.map((key, i) => [key, `a${i}`] as const), ...keys.map((key, i) => [key, i % 2 === 0 ? null : `b${i}`] as const)];
    const probes = keys.filter((_, i) => i % 3 === 0);
    assert.deepEqual(run(ops, probes), model(ops, probes));
  });

  it('stays right, and switches to a string index, when a client chose its keys to share one hash', () => {
    const keys = collidingKeys();
    assert.equal(keys.length, 128);
    assert.equal(new Set(keys).size, 128);
    assert.equal(new Set(keys.map((k) => hashBytes(bytes(k)))).size, 1, 'the keys share one hash');
    const ops = keys.map((key, i) => [key, i % 5 === 0 ? null : `v${i}`] as const);
    const probes = [...keys.slice(0, 20), 'absent', keys[3]!];
    assert.deepEqual(run(ops, probes), model(ops, probes));
    const overlay = new DeltaOverlay();
    for (const key of keys.slice(0, 65)) overlay.set(bytes(key), bytes('v'));
    assert.equal(Reflect.get(overlay, 'byString'), null, 'a key that passes 64 taken places stays in the hash index');
    overlay.set(bytes(keys[65]!), bytes('v'));
    assert.ok(Reflect.get(overlay, 'byString') instanceof Map, 'a key that must pass 65 taken places moves the index to strings');
    assert.equal(text(overlay.take(bytes(keys[5]!))?.value), 'v');
  });

  it('bounds a lookup that starts in a long run of taken places (keys chosen to fill consecutive places) by moving to a string index', () => {
    // 512 keys whose places in the first table (1,024 places) are 0..511, added in that order:
    // each lands in its own place, so no insert passes a taken one.
    const byPlace: Buffer[] = [];
    let filled = 0;
    for (let n = 0; filled < 512; n++) {
      const key = bytes(`/tenant/run/${n.toString(36)}`);
      const place = hashBytes(key) & 1023;
      if (place < 512 && byPlace[place] === undefined) {
        byPlace[place] = key;
        filled++;
      }
    }
    const overlay = new DeltaOverlay();
    for (const key of byPlace) overlay.set(key, bytes('v'));
    assert.equal(Reflect.get(overlay, 'byString'), null, 'no insert passed a taken place');
    let absent = bytes('/tenant/base/0');
    for (let i = 1; (hashBytes(absent) & 1023) !== 0; i++) absent = bytes(`/tenant/base/${i.toString(36)}`);
    assert.equal(overlay.take(absent), undefined);
    assert.ok(Reflect.get(overlay, 'byString') instanceof Map, 'the lookup walked 64 taken places, then moved the index to strings');
    assert.equal(text(overlay.take(byPlace[300]!)?.value), 'v');
    assert.equal(overlay.take(byPlace[300]!), undefined, 'taken once');
  });
});
