import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Real-Chromium files share two cores; run at most two files at once so contexts do not thrash.
    maxWorkers: 2,
  },
});
