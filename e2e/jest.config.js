/*
 * e2e tests: dist/ on a real Kubernetes built here (e2e/lib/kubernetes/), with long timeouts. Each
 * suite file brings up its own bed on its own address block (bedBlock(offset) in
 * e2e/lib/kubernetes/bed-options.ts), so three files run side by side: most of a bed's time is spent
 * waiting for Kubernetes, Patroni and the Jobs, so the 2 cores are shared without the run's
 * outcome depending on it (the tests wait for conditions, never for fixed times).
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
