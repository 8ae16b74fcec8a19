// mocha's dot reporter, closed by one plain line that CI reads: "tests: N passed, N failed".
'use strict';
const { reporters } = require('mocha');

class SummaryReporter extends reporters.Dot {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const { passes, failures, pending } = this.stats;
      const skipped = pending > 0 ? `, ${pending} skipped` : '';
      process.stdout.write(`tests: ${passes} passed, ${failures} failed${skipped}\n`);
    });
  }
}

module.exports = SummaryReporter;
