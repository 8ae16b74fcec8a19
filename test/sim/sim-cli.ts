// make sim-cluster SEEDS=N START=S: runs the whole-cluster simulation over seeds [S, S+N) and
// prints each failing seed with the tail of its trace; exits 1 if any failed. A seed replays
// exactly: SEED=n TRACE=1 prints one run's whole trace (every message included). STOP_AT_FAILURE=1
// ends the run at the first failing seed (the mutation check's way).
import { simulateCluster } from './cluster-sim.ts';

const single = process.env.SEED;
const verbose = process.env.TRACE === '1';
const seeds = single !== undefined ? 1 : Number(process.env.SEEDS ?? 100);
const start = single !== undefined ? Number(single) : Number(process.env.START ?? 0);
const started = performance.now();
let failed = 0;
let ran = 0;
const totals: Record<string, number> = {};
for (let seed = start; seed < start + seeds; seed++) {
  const result = await simulateCluster(seed, { verbose });
  ran++;
  for (const [name, value] of Object.entries(result.stats)) totals[name] = (totals[name] ?? 0) + value;
  if (verbose) console.log(result.trace.join('\n'));
  if (result.failures.length === 0) continue;
  failed++;
  console.log(`FAIL seed ${seed}:\n  ${result.failures.join('\n  ')}`);
  if (!verbose) console.log(`trace (last ${result.trace.length} lines; the whole one: make sim-cluster SEED=${seed} TRACE=1):\n  ${result.trace.join('\n  ')}\n`);
  if (process.env.STOP_AT_FAILURE === '1') break;
}
const seconds = (performance.now() - started) / 1000;
const summary = Object.entries(totals).map(([name, value]) => `${name} ${value}`).join(', ');
console.log(`sim-cluster: seeds ${start}..${start + ran - 1}: ${ran - failed} passed, ${failed} failed; ${summary}; ${seconds.toFixed(1)} s`);
process.exitCode = failed > 0 ? 1 : 0;
