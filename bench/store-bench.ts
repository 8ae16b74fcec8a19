// make bench-store: the v2 store in-process with 1,000,000 keys (16-byte names in 1,000
// directories, 100-byte values). Prints operations per second (median of 5 rounds), RSS, and
// snapshot/restore times. A benchmark, not a test: it asserts nothing.
import { PERMANENT } from '../src/store/node.ts';
import { restoreSnapshot, snapshotChunks } from '../src/store/snapshot.ts';
import { Store } from '../src/store/store.ts';

const KEYS = Number(process.env.KEYS ?? 1_000_000);
const DIRS = 1000;
const ROUNDS = 5;
const OPS_PER_ROUND = 200_000;
const NOW = Date.UTC(2026, 0, 1);
const permanent = { expireTime: PERMANENT };
const value = 'v'.repeat(100);

const keyOf = (i: number) => `/dir${String(i % DIRS).padStart(4, '0')}/k${String(i).padStart(15, '0')}`;

/** A deterministic xorshift PRNG so that every run touches the same keys. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function opsPerSecond(run: (i: number) => void): number {
  const rates: number[] = [];
  // Round 0 warms the JIT up and is not counted.
  for (let round = 0; round <= ROUNDS; round++) {
    const started = performance.now();
    for (let i = 0; i < OPS_PER_ROUND; i++) run(i);
    if (round > 0) rates.push(OPS_PER_ROUND / ((performance.now() - started) / 1000));
  }
  return median(rates);
}

const gc = (globalThis as { gc?: () => void }).gc;
const rssMiB = () => {
  gc?.();
  return process.memoryUsage().rss / 2 ** 20;
};

const baseline = rssMiB();
const store = new Store();
const loadStarted = performance.now();
for (let i = 0; i < KEYS; i++) store.set(keyOf(i), false, value, permanent, NOW);
const loadSeconds = (performance.now() - loadStarted) / 1000;
const loadedRss = rssMiB();

// The keys each round touches, made before timing so that the rounds measure the store alone.
const random = prng(42);
const sample = Array.from({ length: OPS_PER_ROUND }, () => keyOf(Math.floor(random() * KEYS)));
const gets = opsPerSecond((i) => store.get(sample[i]!, false, false, NOW));
const sets = opsPerSecond((i) => store.set(sample[i]!, false, value, permanent, NOW));
const cas = opsPerSecond((i) => store.compareAndSwap(sample[i]!, value, 0, value, permanent, NOW));

const snapStarted = performance.now();
const chunks = [...snapshotChunks(store)];
const snapshotSeconds = (performance.now() - snapStarted) / 1000;
const snapshotMiB = chunks.reduce((sum, chunk) => sum + chunk.length, 0) / 2 ** 20;
const restoreStarted = performance.now();
const restored = restoreSnapshot(chunks);
const restoreSeconds = (performance.now() - restoreStarted) / 1000;
if (restored.index !== store.index) throw new Error('restore lost the index');

const row = (name: string, figure: string, goal: string) => console.log(`${name.padEnd(28)}${figure.padStart(16)}   ${goal}`);
console.log(`store benchmark: ${KEYS.toLocaleString('en')} keys in ${DIRS} directories, 100-byte values, node ${process.version}`);
row('load (sets, sequential)', `${Math.round(KEYS / loadSeconds).toLocaleString('en')}/s`, '');
row('get (random key)', `${Math.round(gets).toLocaleString('en')}/s`, 'goal >= 1,000,000/s');
row('set (random key)', `${Math.round(sets).toLocaleString('en')}/s`, 'goal >= 300,000/s');
row('compareAndSwap (random key)', `${Math.round(cas).toLocaleString('en')}/s`, '');
row('RSS with the keys loaded', `${Math.round(loadedRss)} MiB`, `goal <= 400 MB (process baseline ${Math.round(baseline)} MiB)`);
row('snapshot', `${snapshotSeconds.toFixed(2)} s`, `goal <= 2 s (${snapshotMiB.toFixed(0)} MiB in ${chunks.length} chunks)`);
row('restore', `${restoreSeconds.toFixed(2)} s`, 'goal <= 2 s');
