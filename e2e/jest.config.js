/* e2e tests: real programs, one cluster, run serially with long timeouts. */
module.exports = {
  rootDir: __dirname,
  testMatch: ['<rootDir>/**/*.e2e.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testEnvironment: 'node',
  testTimeout: 180000,
  maxWorkers: 1,
  verbose: true,
  reporters: ['default', '<rootDir>/../test/support/summary-reporter.js'],
};
