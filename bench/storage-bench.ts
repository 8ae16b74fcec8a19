// make bench-storage: the disk's raw fdatasync rate (small write + fdatasync in a loop), then
// entries/s and batches/s persisted through DiskStorage with 1, 16, 64 and 256 concurrent
// proposers (128-byte entries, every write synced), each point the median of 3 runs.
// A benchmark, not a test: it asserts nothing.
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DiskStorage } from '../src/storage/disk-storage.ts';

const SECONDS = Number(process.env.SECONDS_PER_POINT ?? 2);
const base = process.env.BENCH_DIR ?? os.tmpdir();
const payload = new Uint8Array(128).fill(1);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function rawFsyncRate(): number {
  const dir = mkdtempSync(path.join(base, 'kvd-bench-fsync-'));
  const fd = openSync(path.join(dir, 'f'), 'w');
  const block = Buffer.alloc(128, 1);
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < SECONDS * 1000) {
    writeSync(fd, block);
    fdatasyncSync(fd);
    count++;
  }
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return count / ((performance.now() - started) / 1000);
}

async function throughput(proposers: number): Promise<{ entries: number; batches: number }> {
  const dir = mkdtempSync(path.join(base, 'kvd-bench-storage-'));
  const storage = await DiskStorage.open(dir);
  let next = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  const before = storage.writeStats.batches;
  const proposer = async () => {
    while (performance.now() < deadline) {
      const index = ++next;
      await storage.persist({ entries: [{ index, term: 1, type: 'normal', data: payload }], sync: true });
    }
  };
  await Promise.all(Array.from({ length: proposers }, proposer));
  const seconds = (performance.now() - started) / 1000;
  const result = { entries: storage.lastIndex() / seconds, batches: (storage.writeStats.batches - before) / seconds };
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
  return result;
}

// The disk's rate drifts on a shared machine: each raw run is paired with a 1-proposer run made
// right after it, and the ratio is the median of the pairs.
const raw: number[] = [];
const ratios: number[] = [];
for (let i = 0; i < 3; i++) {
  const rate = rawFsyncRate();
  raw.push(rate);
  ratios.push((await throughput(1)).batches / rate);
}
const fsyncs = median(raw);
console.log(`storage benchmark on ${base} (node ${process.version}); each figure the median of 3 runs of ${SECONDS} s`);
console.log(`raw write+fdatasync: ${Math.round(fsyncs).toLocaleString('en')}/s; 1 proposer's batches/s vs raw, paired runs: median ${Math.round(100 * median(ratios))}% (${ratios.map((r) => `${Math.round(100 * r)}%`).join(', ')})`);
console.log('proposers   entries/s     batches/s   batches/s vs raw fsync   entries per batch');
for (const proposers of [1, 16, 64, 256]) {
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await throughput(proposers));
  const entries = median(runs.map((r) => r.entries));
  const batches = median(runs.map((r) => r.batches));
  console.log(
    `${String(proposers).padStart(9)}${Math.round(entries).toLocaleString('en').padStart(12)}${Math.round(batches).toLocaleString('en').padStart(14)}${`${Math.round((100 * batches) / fsyncs)}%`.padStart(25)}${(entries / batches).toFixed(1).padStart(20)}`,
  );
}
console.log('goals: at 1 proposer, batches/s >= 70% of the raw fsync rate; at 256 proposers, >= 100,000 entries/s');
