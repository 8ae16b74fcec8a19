import assert from 'node:assert/strict';
import { simulate } from './simulator.ts';

/** make test runs SIM_SEEDS seeds (default 1,000); `make sim SEEDS=N START=S` runs any range. */
const SEEDS = Number(process.env.SIM_SEEDS ?? 1000);
const START = Number(process.env.SIM_START ?? 0);

describe(`raft simulator: ${SEEDS} seeds of 3, 5 and 7 members under faults`, function () {
  this.timeout(600_000);

  it('keeps every safety property at every step and makes progress once healed', () => {
    const failures: string[] = [];
    let committed = 0;
    for (let seed = START; seed < START + SEEDS; seed++) {
      const result = simulate(seed);
      committed += result.stats.committed;
      if (result.failure !== undefined) failures.push(`${result.failure}\n  trace tail:\n    ${result.trace.slice(-40).join('\n    ')}`);
    }
    assert.ok(committed > SEEDS * 5, `the runs committed only ${committed} entries: the faults leave no room for progress`);
    assert.deepEqual(failures.slice(0, 3), [], `${failures.length} failing seeds (replay one: make sim SEEDS=1 START=<seed>)`);
  });
});
