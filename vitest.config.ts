import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: run files two at a time.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
