import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // .ci/run reads the JSON report to print its `N passed, N failed` line.
    ...(process.env.IPAM_TEST_JSON ? { reporters: ['default', 'json'], outputFile: { json: process.env.IPAM_TEST_JSON } } : {}),
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
