/** Unit and snapshot tests. The type-check is `tsc --noEmit` in `npm test`; @swc/jest only strips types (about 5x faster than ts-jest). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
