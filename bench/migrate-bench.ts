// make bench-migrate: kvctl import of many keys (into kvd and into etcd 3.4), and the lag of kvctl
// mirror from etcd into kvd under a steady write rate. Prints figures; asserts nothing. Starts a
// 3-member kvd cluster and a 1-member etcd on loopback with temp dirs, and stops everything.
// Env: BENCH_IMPORT_KEYS (100000), BENCH_MIRROR_RATE (writes/s, 1000), BENCH_MIRROR_SECONDS (10),
// BENCH_MIRROR_CONCURRENCY (the mirror's --concurrency, 64).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { rawStream } from '../src/client/bench.ts';
import { KVCTL_BIN, background } from '../test/helpers/binary.ts';
import { TestCluster } from '../test/helpers/cluster.ts';
import { startEtcd } from '../test/helpers/etcd.ts';
import { waitUntil } from '../test/helpers/trees.ts';

const run = promisify(execFile);
const IMPORT_KEYS = Number(process.env.BENCH_IMPORT_KEYS ?? 100_000);
const RATE = Number(process.env.BENCH_MIRROR_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_MIRROR_SECONDS ?? 10);
const CONCURRENCY = process.env.BENCH_MIRROR_CONCURRENCY ?? '64';

/** An export document of `count` keys in directories of 1,000. */
function documentOf(count: number): string {
  const nodes: string[] = [];
  for (let dir = 0; dir * 1000 < count; dir++) {
    nodes.push(JSON.stringify({ key: `/bench/d${dir}`, dir: true }));
    for (let i = dir * 1000; i < Math.min(count, (dir + 1) * 1000); i++) nodes.push(JSON.stringify({ key: `/bench/d${dir}/k${i}`, value: `value-${i}-${'x'.repeat(40)}` }));
  }
  return `{"format":"kvd-export","version":1,"key":"/bench","index":0,"exportedAt":"${new Date().toISOString()}","hidden":[],"nodes":[\n${nodes.join(',\n')}\n]}\n`;
}

async function timeImport(name: string, endpoints: string, file: string): Promise<void> {
  const started = performance.now();
  const { stderr } = await run(KVCTL_BIN, ['--endpoints', endpoints, 'import', file], { maxBuffer: 1 << 24, timeout: 900_000 });
  const seconds = (performance.now() - started) / 1000;
  console.log(`| import ${IMPORT_KEYS} keys into ${name} | ${seconds.toFixed(1)} s | ${Math.round(IMPORT_KEYS / seconds)} keys/s | ${stderr.trim().split('\n').at(-1)} |`);
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Writes RATE keys a second to etcd (each value its send time) and measures when each shows in kvd's watch. */
async function mirrorLag(etcd: string, kvd: string): Promise<void> {
  const mirror = background(KVCTL_BIN, ['mirror', '/lag', '--from', etcd, '--endpoints', kvd, '--lag-interval', '1s', '--concurrency', CONCURRENCY]);
  try {
    await waitUntil('the mirror to copy', () => mirror.stderr.includes('following changes'), 30_000);
    const lags: number[] = [];
    const stream = await rawStream(kvd, '/v2/keys/lag?wait=true&stream=true&recursive=true', (line) => {
      if (line.trim() === '') return;
      const event = JSON.parse(line) as { node?: { value?: string } };
      const sent = Number(event.node?.value);
      if (Number.isFinite(sent)) lags.push(Date.now() - sent);
    }, () => undefined);
    const total = RATE * SECONDS;
    const started = Date.now();
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / RATE;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
      const write = fetch(`${etcd}/v2/keys/lag/k${i % 500}`, { method: 'PUT', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `value=${Date.now()}` }).then((r) => r.arrayBuffer());
      inFlight.add(write);
      void write.finally(() => inFlight.delete(write));
    }
    await Promise.all(inFlight);
    const wroteFor = (Date.now() - started) / 1000;
    const last = `/v2/keys/lag/k${(total - 1) % 500}`;
    const valueAt = async (endpoint: string) => ((await (await fetch(`${endpoint}${last}`)).json()) as { node?: { value?: string } }).node?.value;
    const wanted = await valueAt(etcd);
    const caughtUp = Date.now();
    await waitUntil('the last write in kvd', async () => (await valueAt(kvd)) === wanted, 120_000);
    console.log(`| mirror caught up after the writer stopped | ${Date.now() - caughtUp} ms | | |`);
    stream.destroy();
    const sorted = [...lags].sort((a, b) => a - b);
    console.log(`| mirror etcd -> kvd, ${total} writes at ${Math.round(total / wroteFor)}/s | p50 ${percentile(sorted, 50)} ms | p99 ${percentile(sorted, 99)} ms | max ${sorted.at(-1)} ms, ${lags.length} of ${total} seen |`);
    console.log(`\nkvctl mirror's stderr (one lag line a second):\n${mirror.stderr.trim()}`);
  } finally {
    await mirror.stop('SIGTERM');
  }
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'kvd-bench-migrate-'));
const kvd = await TestCluster.start(3);
const etcd = await startEtcd();
try {
  const file = path.join(dir, 'bench.json');
  await writeFile(file, documentOf(IMPORT_KEYS));
  console.log(`kvctl import and mirror on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'})\n`);
  console.log('| what | time / p50 | rate / p99 | notes |\n|---|---|---|---|');
  await timeImport('kvd (3 members)', kvd.endpoints, file);
  await timeImport('etcd 3.4 (1 member)', etcd.endpoint, file);
  await mirrorLag(etcd.endpoint, kvd.endpoints.split(',')[0]!);
} finally {
  await Promise.all([kvd.destroy(), etcd.stop()]);
  await rm(dir, { recursive: true, force: true });
}
