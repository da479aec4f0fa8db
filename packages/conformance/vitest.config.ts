import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // broken.test.ts runs the whole suite against a backend in one test: seconds on an idle core,
    // far more when turbo runs other packages' tests beside it.
    testTimeout: 60_000,
    // The public types are tested too: `*.test-d.ts` files are type-checked, never run.
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.test.json' },
  },
});
