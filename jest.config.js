// Three projects, from pure to real. Engine-backed suites run serially (--runInBand in the
// test script): the CI machine has 2 cores and the engines share them.
const tsJest = ['ts-jest', { diagnostics: false }];
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
  // The running stack's files: PostgreSQL's logical decoding writes `*.snap` files, which jest
  // would take for its own obsolete snapshots.
  modulePathIgnorePatterns: ['<rootDir>/data/', '<rootDir>/.cache/'],
};

const setupFiles = ['<rootDir>/tests/helpers/setup-runtime.ts'];

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'] },
    { ...common, displayName: 'workflows', testMatch: ['<rootDir>/tests/workflows/**/*.test.ts'], setupFiles },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/tests/integration/**/*.test.ts'], setupFiles },
  ],
};
