'use strict';
// Tests are TypeScript, loaded through tsx. Suites that need a real peer
// (ostree, getfattr, ...) skip themselves with a message when it is absent;
// .ci/run installs every peer, so in CI nothing is skipped.
module.exports = {
  spec: ['test/**/*.test.ts'],
  'node-option': ['import=tsx'],
  timeout: 60000,
  recursive: true,
};
