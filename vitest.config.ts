import {defineConfig} from 'vitest/config';

// Tests spawn servers and the built CLI; the machine has 2 shared cores, so keep parallelism low
// and every test bounded in time. Colour is pinned off so output assertions are deterministic.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2,
    env: {NO_COLOR: '1', FORCE_COLOR: '0'},
  },
});
