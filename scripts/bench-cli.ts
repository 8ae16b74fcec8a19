// make bench-cli: kvctl's start-up against etcdctl's, on one kvd member of this machine.
// Prints the medians of `kvctl get KEY` and `ETCDCTL_API=2 etcdctl get KEY` (one hyperfine run, the
// same member and key) with their ratio, and the median of `kvctl --version`. The same run times
// the floor: a single executable of this Node whose script is empty, which is as fast as any
// kvctl built on Node can start. It asserts nothing.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KVCTL_BIN } from '../test/helpers/binary.ts';
import { TestCluster } from '../test/helpers/cluster.ts';

const RUNS = Number(process.env.RUNS ?? 100);

interface HyperfineResult {
  readonly median: number;
  readonly user: number;
  readonly system: number;
}

/** A command's median wall time, and its mean CPU time (user + system), which load disturbs less. */
interface Timing {
  readonly medianMs: number;
  readonly cpuMs: number;
}

function have(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs hyperfine over the commands (no shell, warm-up first) and returns each one's timing. */
function timings(commands: readonly string[]): Timing[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kvd-bench-cli-'));
  try {
    const json = path.join(dir, 'results.json');
    execFileSync('hyperfine', ['-N', '--warmup', '10', '--runs', String(RUNS), '--export-json', json, ...commands], { stdio: 'pipe', env: { ...process.env, ETCDCTL_API: '2' } });
    const { results } = JSON.parse(readFileSync(json, 'utf8')) as { results: HyperfineResult[] };
    return results.map((result) => ({ medianMs: result.median * 1000, cpuMs: (result.user + result.system) * 1000 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Builds, in `dir`, a single executable of this Node (stripped, as bin/kvd) whose main script is empty. */
function emptyExecutable(dir: string): string {
  const node = path.join(dir, 'node');
  copyFileSync(process.execPath, node);
  chmodSync(node, 0o755);
  try {
    execFileSync('strip', [node]);
  } catch {
    // as the build: unstripped when strip is missing
  }
  writeFileSync(path.join(dir, 'empty.mjs'), '');
  const output = path.join(dir, 'empty');
  const config = { main: path.join(dir, 'empty.mjs'), mainFormat: 'module', output, executable: node, useCodeCache: true, disableExperimentalSEAWarning: true };
  writeFileSync(path.join(dir, 'sea-config.json'), JSON.stringify(config));
  execFileSync(process.execPath, ['--build-sea', path.join(dir, 'sea-config.json')], { stdio: 'ignore' });
  return output;
}

for (const tool of ['hyperfine', 'etcdctl']) {
  if (!have(tool)) {
    console.error(`bench-cli: ${tool} is not installed (Debian: apt-get install ${tool === 'etcdctl' ? 'etcd-client' : tool})`);
    process.exit(1);
  }
}
const scratch = mkdtempSync(path.join(os.tmpdir(), 'kvd-bench-cli-sea-'));
const cluster = await TestCluster.start(1);
try {
  const empty = emptyExecutable(scratch);
  const endpoint = cluster.endpoints;
  execFileSync(KVCTL_BIN, ['--endpoints', endpoint, 'put', '/bench-cli/key', 'value']);
  const [kvctlGet, etcdctlGet, floor] = timings([
    `${KVCTL_BIN} --endpoints ${endpoint} get /bench-cli/key`,
    `etcdctl --endpoints ${endpoint} get /bench-cli/key`,
    empty,
  ]);
  const [version] = timings([`${KVCTL_BIN} --version`]);
  const line = (name: string, timing: Timing): string => `${name.padEnd(25)}median ${timing.medianMs.toFixed(1)} ms   (CPU ${timing.cpuMs.toFixed(1)} ms)`;
  console.log(line('kvctl get KEY', kvctlGet!));
  console.log(line('etcdctl get KEY (v2 API)', etcdctlGet!));
  const ratio = (a: Timing, b: Timing): string => `${(a.medianMs / b.medianMs).toFixed(2)}  (CPU ${(a.cpuMs / b.cpuMs).toFixed(2)})`;
  console.log(`ratio kvctl / etcdctl    ${ratio(kvctlGet!, etcdctlGet!)}  (goal: at most 1.5)`);
  console.log(`${line('empty Node executable', floor!)}  (the floor: a single executable whose script is empty)`);
  console.log(`ratio floor / etcdctl    ${ratio(floor!, etcdctlGet!)}`);
  console.log(`${line('kvctl --version', version!)}  (goal: at most 50 ms)`);
  console.log(`(${RUNS} runs each on ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)})`);
} finally {
  await cluster.destroy();
  rmSync(scratch, { recursive: true, force: true });
}
