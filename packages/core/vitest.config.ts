import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Some cases build corpora of millions of values (1-5 s alone); vitest's 5 s default failed
    // them on a busy machine (CI runs two packages at once).
    testTimeout: 30_000,
    // `vitest run` also type-checks test/types/*.test-d.ts (compile-time assertions on the public
    // types; they never run). tsconfig.test.json maps `@cosinekit/core` and its `/backend` entry to
    // src, so they check what the package's two entries export without a build.
    typecheck: {
      enabled: true,
      include: ['test/types/**/*.test-d.ts'],
      tsconfig: './tsconfig.test.json',
    },
  },
});
