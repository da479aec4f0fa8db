import { defineConfig } from 'vitest/config';

// The backends are imported through their public entry points (each package's dist/): run
// `pnpm build` first (turbo's `test` task depends on `build`).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    // The soak test calls global.gc() before each memory sample, so the heap figures are live data.
    execArgv: ['--expose-gc'],
    // One file at a time: the soak figures are only meaningful on a machine not busy with another file.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
