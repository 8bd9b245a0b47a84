import {defineConfig} from 'vitest/config';

// Tests spawn servers and the built CLI; the machine has 2 shared cores, so keep parallelism low
// and every test bounded in time. Colour is pinned off so output assertions are deterministic.
// Files named *.serial.test.ts assert on timing or memory: they run alone, after everything else.
const shared = {
  testTimeout: 30_000,
  hookTimeout: 30_000,
  pool: 'forks' as const,
  env: {NO_COLOR: '1', FORCE_COLOR: '0'},
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'parallel',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.serial.test.ts'],
          maxWorkers: 2,
          sequence: {groupOrder: 0},
        },
      },
      {
        test: {
          ...shared,
          name: 'serial',
          include: ['test/**/*.serial.test.ts'],
          fileParallelism: false,
          sequence: {groupOrder: 1},
        },
      },
    ],
  },
});
