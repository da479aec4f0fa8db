import { defineConfig } from 'vitest/config';

/** Node only: PGlite embedded, and PGlite served on the wire protocol for the `pg` path. */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
