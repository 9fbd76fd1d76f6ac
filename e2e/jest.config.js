/*
 * e2e tests: real programs with long timeouts. Each suite file brings up its own test bed on its
 * own address block (127.B.x.y), so three files run side by side (they mostly wait on timers): the
 * whole run stays short.
 */
module.exports = {
  rootDir: __dirname,
  testMatch: ['<rootDir>/**/*.e2e.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testEnvironment: 'node',
  testTimeout: 180000,
  maxWorkers: 3,
  verbose: true,
  reporters: ['default', '<rootDir>/../test/support/summary-reporter.js'],
};
