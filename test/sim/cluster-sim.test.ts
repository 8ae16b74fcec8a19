import assert from 'node:assert/strict';
import { simulateCluster } from './cluster-sim.ts';

/** make test runs SIM_CLUSTER_SEEDS seeds (default 500); `make sim-cluster SEEDS=N START=S` runs any range. */
const SEEDS = Number(process.env.SIM_CLUSTER_SEEDS ?? 500);
const START = Number(process.env.SIM_CLUSTER_START ?? 0);

describe(`cluster simulation: ${SEEDS} seeds of the real members under faults`, function () {
  this.timeout(900_000);

  it('replays a seed exactly: the same trace, byte for byte, twice', async () => {
    const first = await simulateCluster(7, { verbose: true });
    const second = await simulateCluster(7, { verbose: true });
    assert.ok(first.trace.length > 1000, `the trace has only ${first.trace.length} lines`);
    assert.equal(second.trace.join('\n'), first.trace.join('\n'));
    assert.equal(second.digest, first.digest);
  });

  it('keeps every client history linearizable, every watch whole, every member alike', async () => {
    const failures: string[] = [];
    const totals = { ok: 0, unknown: 0, crashes: 0, failStops: 0, added: 0 };
    for (let seed = START; seed < START + SEEDS; seed++) {
      const result = await simulateCluster(seed);
      for (const name of Object.keys(totals) as Array<keyof typeof totals>) totals[name] += result.stats[name] ?? 0;
      if (result.failures.length > 0) failures.push(`seed ${seed}: ${result.failures.join('\n  ').slice(0, 3000)}\n  trace tail:\n    ${result.trace.slice(-30).join('\n    ')}`);
    }
    // The faults must leave room for work, and must happen.
    assert.ok(totals.ok > SEEDS * 50, `only ${totals.ok} requests succeeded over ${SEEDS} seeds`);
    assert.ok(totals.crashes > SEEDS / 2 && totals.failStops > 0 && totals.added > 0, `too few faults: ${JSON.stringify(totals)}`);
    assert.deepEqual(failures.slice(0, 3), [], `${failures.length} failing seeds (replay one: make sim-cluster SEED=<seed> TRACE=1)`);
  });
});
