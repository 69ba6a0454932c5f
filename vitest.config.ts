import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real servers; keep them off each other's CPU.
    fileParallelism: false,
    reporters: ['default'],
  },
});
