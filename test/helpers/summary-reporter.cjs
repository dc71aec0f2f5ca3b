'use strict';
// Mocha's spec reporter plus one closing line that CI reads:
//   "N passed, N failed, N skipped"
// and, when CANOPY_TEST_COUNTS names a file, the same counts as JSON there.
const Mocha = require('mocha');
const { writeFileSync } = require('node:fs');

const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const counts = { passed: 0, failed: 0, skipped: 0 };
    runner.on(EVENT_TEST_PASS, () => counts.passed++);
    runner.on(EVENT_TEST_FAIL, () => counts.failed++);
    runner.on(EVENT_TEST_PENDING, () => counts.skipped++);
    runner.once(EVENT_RUN_END, () => {
      // After the spec reporter's own epilogue.
      setImmediate(() => {
        process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
        if (process.env.CANOPY_TEST_COUNTS) writeFileSync(process.env.CANOPY_TEST_COUNTS, JSON.stringify(counts));
      });
    });
  }
}

module.exports = SummaryReporter;
