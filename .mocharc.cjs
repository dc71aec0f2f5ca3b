'use strict';
// Tests are TypeScript, loaded through tsx. The spec list is given on the
// command line (package.json "test"), so `npx mocha test/unit/x.test.ts` runs
// one file. Suites that need a real peer
// (ostree, getfattr, ...) skip themselves with a message when it is absent;
// .ci/run installs every peer, so in CI nothing is skipped.
module.exports = {
  'node-option': ['import=tsx'],
  reporter: 'test/helpers/summary-reporter.cjs',
  timeout: 60000,
  recursive: true,
};
