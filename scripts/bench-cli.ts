// make bench-cli: kvctl's start-up against etcdctl's, on one kvd member of this machine.
// Prints the medians of `kvctl get KEY` and `ETCDCTL_API=2 etcdctl get KEY` (one hyperfine run, the
// same member and key) with their ratio, and the median of `kvctl --version`. It asserts nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

for (const tool of ['hyperfine', 'etcdctl']) {
  if (!have(tool)) {
    console.error(`bench-cli: ${tool} is not installed (Debian: apt-get install ${tool === 'etcdctl' ? 'etcd-client' : tool})`);
    process.exit(1);
  }
}
const cluster = await TestCluster.start(1);
try {
  const endpoint = cluster.endpoints;
  execFileSync(KVCTL_BIN, ['--endpoints', endpoint, 'put', '/bench-cli/key', 'value']);
  const [kvctlGet, etcdctlGet] = timings([
    `${KVCTL_BIN} --endpoints ${endpoint} get /bench-cli/key`,
    `etcdctl --endpoints ${endpoint} get /bench-cli/key`,
  ]);
  const [version] = timings([`${KVCTL_BIN} --version`]);
  const line = (name: string, timing: Timing): string => `${name.padEnd(25)}median ${timing.medianMs.toFixed(1)} ms   (CPU ${timing.cpuMs.toFixed(1)} ms)`;
  console.log(line('kvctl get KEY', kvctlGet!));
  console.log(line('etcdctl get KEY (v2 API)', etcdctlGet!));
  console.log(`ratio kvctl / etcdctl    ${(kvctlGet!.medianMs / etcdctlGet!.medianMs).toFixed(2)}  (goal: at most 1.5)`);
  console.log(`${line('kvctl --version', version!)}  (goal: at most 50 ms)`);
  console.log(`(${RUNS} runs each on ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)})`);
} finally {
  await cluster.destroy();
}
