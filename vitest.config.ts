import { defineConfig } from 'vitest/config';

/**
 * Two groups: the suite, then the durability drills on their own. The drills kill processes and
 * measure replica lag against the seed's 5 s bound; sharing two cores with twenty other test files
 * made that lag a measure of the other files, so they run after everything else has finished.
 */
const DRILLS = ['test/durability.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    // A ceiling for a hung test, not a speed target: the slowest (a 5,000-address import, a 300-address
    // environment) take 15-40 s alone and twice that when the two cores are busy.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // .ci/run reads the JSON report to print its `N passed, N failed` line.
    ...(process.env.IPAM_TEST_JSON ? { reporters: ['default', 'json'], outputFile: { json: process.env.IPAM_TEST_JSON } } : {}),
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: DRILLS, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'drills', include: DRILLS, testTimeout: 180_000, sequence: { groupOrder: 1 } } },
    ],
  },
});
