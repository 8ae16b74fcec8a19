// make bench-backup: restore and save of a store of KEYS (default 1,000,000) keys with the built
// binary. The snapshot file is generated directly (1,000 directories of 1,000 keys); kvctl
// restores it into a data dir, one kvd member starts from it, and kvctl saves it back.
// Prints wall-clock times; a benchmark, not a test: it asserts nothing.
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SNAPSHOT_FILE_VERSION, SnapshotFileEncoder } from '../src/api/snapshot-file.ts';
import { encodeNode } from '../src/server/store-image.ts';
import { freePort } from '../test/helpers/ports.ts';

const KEYS = Number(process.env.KEYS ?? 1_000_000);
const PER_DIR = 1000;
const BIN = path.resolve(import.meta.dirname, '../bin/kvctl');
const KVD = path.resolve(import.meta.dirname, '../bin/kvd');

async function generate(file: string): Promise<void> {
  const dirs = Math.ceil(KEYS / PER_DIR);
  const encoder = new SnapshotFileEncoder();
  const out = createWriteStream(file);
  const write = (bytes: Buffer) => (out.write(bytes) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve())));
  const store = { index: KEYS + dirs, historyCapacity: 1000, history: [] };
  await write(encoder.start({ version: SNAPSHOT_FILE_VERSION, created: new Date().toISOString(), index: store.index, raftIndex: store.index, term: 2, keys: KEYS, clusterId: '0', member: 'bench', membership: {}, store }));
  let index = 0;
  for (let d = 0; d < dirs; d++) {
    const dir = `/bench/d${String(d).padStart(4, '0')}`;
    const records = [encodeNode({ path: dir, createdIndex: ++index, modifiedIndex: index, expireTime: 0, value: null })];
    for (let k = 0; k < PER_DIR && d * PER_DIR + k < KEYS; k++) records.push(encodeNode({ path: `${dir}/k${k}`, createdIndex: ++index, modifiedIndex: index, expireTime: 0, value: `value-${d}-${k}-xxxxxxxx` }));
    if (d === 0) records.unshift(encodeNode({ path: '/bench', createdIndex: 0, modifiedIndex: 0, expireTime: 0, value: null }));
    await write(encoder.records(records));
  }
  out.end(encoder.finish());
  await new Promise((resolve) => out.once('finish', resolve));
}

function timed(file: string, args: readonly string[]): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`${path.basename(file)} ${args[0]} ${args[1]} exited ${code}`))));
  });
}

async function waitHealthy(url: string): Promise<void> {
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const root = await mkdtemp(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'kvd-bench-backup-'));
const member = spawnMember();
try {
  const source = path.join(root, 'generated.kvdsnap');
  let started = performance.now();
  await generate(source);
  console.log(`generated ${KEYS} keys: ${((await stat(source)).size / 1e6).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const [client, peer] = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
  const dataDir = path.join(root, 'm1');
  console.log(`restore: ${(await timed(BIN, ['snapshot', 'restore', source, '--name', 'm1', '--initial-cluster', `m1=${peer}`, '--data-dir', dataDir])).toFixed(2)} s`);
  started = performance.now();
  member.start(['serve', '--name', 'm1', '--data-dir', dataDir, '--listen-client-urls', client, '--listen-peer-urls', peer, '--initial-cluster', `m1=${peer}`]);
  await waitHealthy(client);
  console.log(`member start from it: ${((performance.now() - started) / 1000).toFixed(2)} s`);
  const saved = path.join(root, 'saved.kvdsnap');
  console.log(`member memory before the save: ${member.memory()}`);
  console.log(`save: ${(await timed(BIN, ['--endpoints', client, '--timeout', '60s', 'snapshot', 'save', saved])).toFixed(2)} s (${((await stat(saved)).size / 1e6).toFixed(1)} MB)`);
  console.log(`member memory after the save: ${member.memory()}`);
  console.log(`status: ${(await timed(BIN, ['snapshot', 'status', saved])).toFixed(2)} s`);
} finally {
  member.stop();
  await rm(root, { recursive: true, force: true });
}

/** The kvd member the bench starts; stopped whatever happens. */
function spawnMember() {
  let child: ReturnType<typeof spawn> | undefined;
  return {
    start: (args: readonly string[]) => (child = spawn(KVD, [...args], { stdio: 'ignore' })),
    stop: () => child?.kill('SIGKILL'),
    /** Resident and peak resident memory, from /proc (Linux). */
    memory: () => {
      const status = readFileSync(`/proc/${child!.pid}/status`, 'utf8');
      const field = (name: string) => `${(Number(/(\d+) kB/.exec(status.split('\n').find((line) => line.startsWith(name)) ?? '')?.[1] ?? 0) / 1024).toFixed(0)} MB`;
      return `rss ${field('VmRSS')}, peak ${field('VmHWM')}`;
    },
  };
}
