import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The CLI tests run real (tiny) benchmarks; on a busy shared machine they can take seconds.
  test: { include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});
