// make sim SEEDS=N START=S: runs the simulator over seeds [S, S+N) and prints each failing seed
// with the tail of its trace; exits 1 if any failed. A seed replays exactly.
import { simulate } from './simulator.ts';

const seeds = Number(process.env.SEEDS ?? 1000);
const start = Number(process.env.START ?? 0);
const started = performance.now();
let failed = 0;
let committed = 0;
for (let seed = start; seed < start + seeds; seed++) {
  const result = simulate(seed);
  committed += result.stats.committed;
  if (result.failure === undefined) continue;
  failed++;
  console.log(`FAIL ${result.failure}`);
  console.log(`trace (last ${result.trace.length} lines):\n  ${result.trace.join('\n  ')}\n`);
}
const seconds = (performance.now() - started) / 1000;
console.log(`sim: seeds ${start}..${start + seeds - 1}: ${seeds - failed} passed, ${failed} failed; ${committed} entries committed; ${seconds.toFixed(1)} s`);
process.exitCode = failed > 0 ? 1 : 0;
