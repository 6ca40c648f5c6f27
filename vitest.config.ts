import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Two cores: keep one worker per core so the heavier suites do not starve each other.
    maxWorkers: 2,
  },
});
