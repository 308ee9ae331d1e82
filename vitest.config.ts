import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal's native worker does not run inside worker threads.
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['./test/global-setup.ts'],
    setupFiles: ['./test/support/encryption.ts'],
    include: ['test/**/*.test.ts', 'sdk/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
