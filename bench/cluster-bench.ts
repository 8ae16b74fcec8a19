// make bench: kvd against etcd 3.4, same machine, same generator (bin/kvctl bench), alternating.
// Starts a 3-member kvd cluster and (when /usr/bin/etcd exists) a 3-member etcd with the v2 API
// on loopback with temp data dirs, runs each workload REPS times per system, and prints the
// medians and kvd/etcd ratios as a markdown table. Watch workloads also run against the fan-out
// floor (bench/fanout-floor.ts: processes that only fan events out), the bound this machine puts
// on delivery latency. Resident memory per member is read from /proc: idle, at its peak under the
// 5,000 long-poll watchers, and holding BENCH_RESTART_KEYS keys. Everything it starts, it stops.
// Env: BENCH_DURATION (default 5s), BENCH_REPS (3), BENCH_RESTART_KEYS (0, which skips the points
// with that many keys, memory and restart time, ~5 more minutes: `make bench-big` sets 1000000),
// BENCH_ONLY (a substring of workload names to run), BENCH_KVD_FLAGS (more `kvd serve` flags, e.g. "--snapshot-count 100000", etcd 3.4's
// default).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import type { BenchResult, WatchBenchResult } from '../src/client/bench.ts';
import { KVCTL_BIN, KVD_BIN } from '../test/helpers/binary.ts';
import { TestCluster } from '../test/helpers/cluster.ts';
import type { EtcdProcess } from '../test/helpers/etcd.ts';
import { startEtcd } from '../test/helpers/etcd.ts';
import { FanoutFloor } from './fanout-floor.ts';
import { PeakSampler, pidListeningOn, residentOf, type Resident } from './member-memory.ts';

const run = promisify(execFile);
const DURATION = process.env.BENCH_DURATION ?? '5s';
const REPS = Number(process.env.BENCH_REPS ?? 3);
const RESTART_KEYS = Number(process.env.BENCH_RESTART_KEYS ?? 0);
const ONLY = process.env.BENCH_ONLY ?? '';
const KVD_FLAGS = (process.env.BENCH_KVD_FLAGS ?? '').split(' ').filter((f) => f !== '');
const ETCD = '/usr/bin/etcd';

interface System {
  readonly name: 'kvd' | 'etcd' | 'floor';
  readonly endpoints: string;
  /** Only the watch workloads (the floor answers nothing else). */
  readonly watchOnly?: boolean;
}

interface Workload {
  readonly name: string;
  readonly args: readonly string[];
  /** Run with auth enabled, as this user (NAME:PASSWORD) with read permission on the keys. */
  readonly user?: string;
  /** Sample each member's resident memory during the runs: its peak is a memory point. */
  readonly memory?: boolean;
}

const BENCH_USER = 'bench:bench-pw';

const WORKLOADS: readonly Workload[] = [
  ...[1, 16, 64, 256].map((c) => ({ name: `put, ${c} client${c > 1 ? 's' : ''}`, args: ['put', '--clients', String(c), '--duration', DURATION] })),
  { name: 'quorum get, 64 clients', args: ['get', '--clients', '64', '--consistency', 'l', '--duration', DURATION] },
  { name: 'local get, 64 clients', args: ['get', '--clients', '64', '--consistency', 's', '--duration', DURATION] },
  { name: 'watch, 1,000 watchers', args: ['watch', '--watchers', '1000', '--events', '100', '--rate', '20'] },
  { name: 'watch, 10,000 watchers', args: ['watch', '--watchers', '10000', '--events', '100', '--rate', '20'] },
  // The way etcd v2 clients watch (etcdctl watch, python-etcd, node-etcd): GET ?wait=true&waitIndex=N, again after each event.
  ...[1000, 5000, 10_000].map((w) => ({ name: `long-poll watch, ${w.toLocaleString('en')} watchers`, args: ['watch', '--mode', 'poll', '--watchers', String(w), '--events', '50', '--rate', '10'], memory: w === 5000 })),
  // Last: it turns auth on (the guest role etcd makes keeps the other workloads' access as it was).
  { name: 'local get under auth, 64 clients', args: ['get', '--clients', '64', '--consistency', 's', '--duration', DURATION], user: BENCH_USER },
].filter((w) => w.name.includes(ONLY));

/** The members' pids (the floor's are not looked up: its memory is not a point). */
function pidsOf(system: System): number[] {
  return system.endpoints.split(',').map((url) => pidListeningOn(url)).filter((pid) => pid !== undefined);
}

async function bench(system: System, args: readonly string[], user?: string): Promise<BenchResult | WatchBenchResult> {
  const { stdout } = await run(KVCTL_BIN, ['--endpoints', system.endpoints, ...(user !== undefined ? ['--user', user] : []), 'bench', ...args, '-w', 'json'], { maxBuffer: 1 << 24, timeout: 600_000 });
  return JSON.parse(stdout) as BenchResult | WatchBenchResult;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? '-' : (a / b).toFixed(2));
const fmt = (value: number | undefined, digits = 1) => (value === undefined ? '-' : value >= 100 ? String(Math.round(value)) : value.toFixed(digits));

interface Figures {
  throughput?: number;
  p99?: number;
  missed?: number;
  duplicated?: number;
  /** Errors of all runs, with their kinds: `0`, or `2 (ECONNRESET: 2)`. */
  errors: string;
  generatorCpu?: number;
}

function figures(results: ReadonlyArray<BenchResult | WatchBenchResult>): Figures {
  const kinds = new Map<string, number>();
  for (const r of results) for (const [kind, n] of Object.entries(r.errors)) kinds.set(kind, (kinds.get(kind) ?? 0) + n);
  const total = [...kinds.values()].reduce((a, b) => a + b, 0);
  const errors = total === 0 ? '0' : `${total} (${[...kinds].map(([kind, n]) => `${kind}: ${n}`).join(', ')})`;
  if (results.length === 0) return { errors };
  if ('deliveryLatencyMs' in results[0]!) {
    const watch = results as WatchBenchResult[];
    return { p99: median(watch.map((r) => r.deliveryLatencyMs.p99)), missed: watch.reduce((s, r) => s + r.missed, 0), duplicated: watch.reduce((s, r) => s + r.duplicated, 0), errors };
  }
  const loads = results as BenchResult[];
  return { throughput: median(loads.map((r) => r.opsPerSecond)), p99: median(loads.map((r) => r.latencyMs.p99)), errors, generatorCpu: median(loads.map((r) => r.generatorCpuMicrosPerOp)) };
}

/** Fills a system with `keys` keys of 64 bytes under /restart, in order. */
async function fillBig(system: System, keys: number): Promise<void> {
  process.stderr.write(`filling ${system.name} with ${keys} keys...\n`);
  await run(KVCTL_BIN, ['--endpoints', system.endpoints, 'bench', 'put', '--sequential', '--total', String(keys), '--key-space', String(keys), '--value-size', '64', '--clients', '64', '--prefix', '/restart'], { maxBuffer: 1 << 24, timeout: 3_600_000 });
}

/** The client URL of a follower (a member the leader's name is not). */
async function followerOf(system: System, nameOf: (url: string, index: number) => string): Promise<{ url: string; index: number }> {
  const urls = system.endpoints.split(',');
  const leader = (await (await fetch(`${urls[0]}/v2/members/leader`)).json()) as { name: string };
  const index = urls.findIndex((url, i) => nameOf(url, i) !== leader.name);
  return { url: urls[index]!, index };
}

/** How long after `started` the member at `url` first reads the last of `keys` keys (polled every 20 ms). */
async function servesLastKey(url: string, keys: number, started: number, log: () => string): Promise<number> {
  const last = `${url}/v2/keys/restart/k${keys - 1}`;
  for (;;) {
    const ok = await fetch(last).then((r) => r.status === 200, () => false);
    if (ok) return Math.round(performance.now() - started);
    if (performance.now() - started > 120_000) throw new Error(`${url} did not serve within 120 s:\n${log().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Kills -9 one follower of the kvd cluster and times its restart until it serves the last key. */
async function kvdRestartMs(cluster: TestCluster, keys: number): Promise<number> {
  const { index } = await followerOf({ name: 'kvd', endpoints: cluster.endpoints }, (_, i) => cluster.members[i]!.name);
  const victim = cluster.members[index]!;
  await cluster.kill(victim);
  const started = performance.now();
  cluster.launch(victim);
  return servesLastKey(victim.clientUrl, keys, started, () => victim.log);
}

/**
 * The same for etcd: killed -9, started again on its data dir. The helper's restart waits for
 * /health (polled every 100 ms) before the read is tried: at most 100 ms more than kvd's.
 */
async function etcdRestartMs(etcd: EtcdProcess, keys: number): Promise<number> {
  const { url, index } = await followerOf({ name: 'etcd', endpoints: etcd.endpoints.join(',') }, (_, i) => `e${i + 1}`);
  etcd.kill(index, 'SIGKILL');
  const started = performance.now();
  await etcd.restart(index);
  return servesLastKey(url, keys, started, () => '');
}

/** Each member's resident memory now. */
function residentNow(system: System): Resident[] {
  return pidsOf(system).map((pid) => residentOf(pid)).filter((r) => r !== undefined);
}

/** Root, a user that may read the bench keys, auth on: through the /v2/auth API, as etcdctl would. */
async function enableAuth(system: System): Promise<void> {
  const endpoint = system.endpoints.split(',')[0]!;
  const [name, password] = BENCH_USER.split(':') as [string, string];
  const steps: Array<[string, string, unknown]> = [
    ['PUT', '/v2/auth/users/root', { user: 'root', password: 'bench-root' }],
    ['PUT', '/v2/auth/roles/bench-read', { role: 'bench-read', permissions: { kv: { read: ['/bench/*'], write: [] } } }],
    ['PUT', `/v2/auth/users/${name}`, { user: name, password, roles: ['bench-read'] }],
    ['PUT', '/v2/auth/enable', undefined],
  ];
  for (const [method, path, body] of steps) {
    const response = await fetch(`${endpoint}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    if (!response.ok) throw new Error(`${system.name}: ${method} ${path} answered ${response.status}: ${await response.text()}`);
  }
}

async function main(): Promise<void> {
  if (!existsSync(KVD_BIN)) throw new Error('bin/kvd is missing: make builds it');
  const withEtcd = existsSync(ETCD);
  const kvd = await TestCluster.start(3, KVD_FLAGS);
  let etcd: EtcdProcess | undefined;
  let floor: FanoutFloor | undefined;
  try {
    etcd = withEtcd ? await startEtcd(3) : undefined;
    floor = await FanoutFloor.start(3);
    const systems: System[] = [
      { name: 'kvd', endpoints: kvd.endpoints },
      ...(etcd ? [{ name: 'etcd' as const, endpoints: etcd.endpoints.join(',') }] : []),
      { name: 'floor', endpoints: floor.endpoints, watchOnly: true },
    ];
    const memory = new Map<string, Map<string, Resident[]>>();
    const memoryPoint = (point: string, system: System, members: Resident[]) => {
      const bySystem = memory.get(point) ?? new Map<string, Resident[]>();
      memory.set(point, bySystem);
      const before = bySystem.get(system.name);
      // Over several runs, each member's highest.
      bySystem.set(system.name, before === undefined ? members : members.map((r, i) => ({ rss: Math.max(r.rss, before[i]?.rss ?? 0), anon: Math.max(r.anon, before[i]?.anon ?? 0) })));
    };
    // Idle: started, a leader elected, nothing written yet.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    for (const system of systems.filter((s) => !s.watchOnly)) memoryPoint('idle', system, residentNow(system));
    for (const system of systems.filter((s) => !s.watchOnly)) {
      process.stderr.write(`filling ${system.name}'s key space...\n`);
      await bench(system, ['put', '--sequential', '--total', '100000', '--clients', '64']);
    }
    // Let both settle (background compaction after the fill) before measuring.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    for (const system of systems.filter((s) => !s.watchOnly)) memoryPoint('holding 100,000 keys (256-byte values)', system, residentNow(system));
    const results = new Map<string, Map<string, Array<BenchResult | WatchBenchResult>>>();
    for (const workload of WORKLOADS) {
      const bySystem = new Map<string, Array<BenchResult | WatchBenchResult>>();
      results.set(workload.name, bySystem);
      const taking = systems.filter((s) => !s.watchOnly || workload.args[0] === 'watch');
      if (workload.user !== undefined) for (const system of taking) await enableAuth(system);
      for (let rep = 0; rep < REPS; rep++) {
        for (const system of rep % 2 === 0 ? taking : [...taking].reverse()) {
          process.stderr.write(`${workload.name}: ${system.name}, run ${rep + 1} of ${REPS}\n`);
          const sampler = workload.memory === true && !system.watchOnly ? new PeakSampler(pidsOf(system)) : undefined;
          const result = await bench(system, workload.args, workload.user);
          if (sampler !== undefined) memoryPoint(`peak, ${workload.name} (10 writes/s)`, system, sampler.stop());
          bySystem.set(system.name, [...(bySystem.get(system.name) ?? []), result]);
        }
      }
    }
    const etcdVersion = withEtcd ? (await run(ETCD, ['--version'])).stdout.split('\n')[0] : 'not installed';
    const kvdVersion = (await run(KVD_BIN, ['--version'])).stdout.trim();
    const lines = [
      `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}; kvd ${kvdVersion}; ${etcdVersion}.`,
      `Both: 3 members on 127.0.0.1 (heartbeat 50 ms, election 500 ms, fsync on, each system's default --snapshot-count unless kvd's flags say otherwise: ${KVD_FLAGS.join(' ') || 'none'}), driven by \`kvctl bench\` over all three client URLs; median of ${REPS} runs of ${DURATION} each, alternating; 256-byte values over 100,000 keys.`,
      '',
      '| workload | kvd ops/s | etcd ops/s | kvd/etcd | kvd p99 ms | etcd p99 ms | p99 kvd/etcd | errors kvd / etcd |',
      '|---|---|---|---|---|---|---|---|',
    ];
    for (const [name, bySystem] of results) {
      const k = figures(bySystem.get('kvd') ?? []);
      const e = figures(bySystem.get('etcd') ?? []);
      const watch = k.missed !== undefined;
      const extra = watch ? ` (missed ${k.missed}/${e.missed ?? '-'}, duplicated ${k.duplicated}/${e.duplicated ?? '-'})` : '';
      lines.push(`| ${name}${extra} | ${watch ? '-' : fmt(k.throughput)} | ${watch ? '-' : fmt(e.throughput)} | ${watch ? '-' : ratio(k.throughput, e.throughput)} | ${fmt(k.p99, 2)} | ${fmt(e.p99, 2)} | ${ratio(k.p99, e.p99)} | ${k.errors} / ${withEtcd ? e.errors : '-'} |`);
    }
    const plain = results.get('local get, 64 clients');
    const authed = results.get('local get under auth, 64 clients');
    if (plain !== undefined && authed !== undefined) {
      const share = (name: string) => ratio(figures(authed.get(name) ?? []).throughput, figures(plain.get(name) ?? []).throughput);
      lines.push('', `Reads under auth (HTTP Basic credentials on every request, a user with a prefix permission) reach ${share('kvd')}× the throughput of reads without auth on kvd, ${withEtcd ? share('etcd') : '-'}× on etcd.`);
    }
    const floors = [...results].flatMap(([name, bySystem]) => (bySystem.has('floor') ? [`${name.replace(/^watch, /, '')}: p99 ${fmt(figures(bySystem.get('floor')!).p99, 2)} ms`] : []));
    if (floors.length > 0) {
      lines.push('', `Watch delivery floor (bench/fanout-floor.ts: 3 processes that only hold the streams and write each event to them; no store, log or fsync), same generator, same runs: ${floors.join('; ')}.`);
    }
    const cpu = [...results.values()].flatMap((m) => m.get('kvd') ?? []).flatMap((r) => ('generatorCpuMicrosPerOp' in r ? [r.generatorCpuMicrosPerOp] : []));
    if (cpu.length > 0) lines.push('', `The generator's own CPU: median ${median(cpu)} µs per request.`);
    const restart = new Map<string, number>();
    if (RESTART_KEYS > 0) {
      const point = `holding ${RESTART_KEYS.toLocaleString('en')} more keys (64-byte values)`;
      for (const system of systems.filter((s) => !s.watchOnly)) {
        await fillBig(system, RESTART_KEYS);
        await new Promise((resolve) => setTimeout(resolve, 3000));
        memoryPoint(point, system, residentNow(system));
        restart.set(system.name, system.name === 'kvd' ? await kvdRestartMs(kvd, RESTART_KEYS) : await etcdRestartMs(etcd!, RESTART_KEYS));
      }
      const keys = RESTART_KEYS.toLocaleString('en');
      lines.push('', `A follower holding ${keys} keys more than the workloads', killed with -9 and started again, served a read of the last key after: kvd ${restart.get('kvd')} ms, etcd ${restart.get('etcd') ?? '-'} ms (${ratio(restart.get('kvd'), restart.get('etcd'))}×).`);
    }
    lines.push('', ...memoryTable(memory, withEtcd));
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await kvd.destroy();
    await etcd?.stop();
    await floor?.stop();
  }
}

/** The memory points as a table: each member's RSS (and its anonymous part), and the ratio of the largest members'. */
function memoryTable(memory: Map<string, Map<string, Resident[]>>, withEtcd: boolean): string[] {
  const mib = (members: Resident[] | undefined, field: keyof Resident) => (members === undefined || members.length === 0 ? '-' : members.map((r) => Math.round(r[field])).join(' / '));
  const largest = (members: Resident[] | undefined) => (members === undefined || members.length === 0 ? undefined : Math.max(...members.map((r) => r.rss)));
  const lines = [
    'Resident memory per member (MiB, from /proc/<pid>/status: VmRSS, and RssAnon, what the process allocated itself):',
    '',
    '| point | kvd RSS | etcd RSS | kvd/etcd (largest) | kvd anon | etcd anon |',
    '|---|---|---|---|---|---|',
  ];
  for (const [point, bySystem] of memory) {
    const k = bySystem.get('kvd');
    const e = bySystem.get('etcd');
    lines.push(`| ${point} | ${mib(k, 'rss')} | ${withEtcd ? mib(e, 'rss') : '-'} | ${ratio(largest(k), largest(e))} | ${mib(k, 'anon')} | ${withEtcd ? mib(e, 'anon') : '-'} |`);
  }
  return lines;
}

await main();
