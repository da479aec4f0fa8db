import { defineConfig } from 'vitest/config';
import { BROWSER_ROOT, BROWSER_SETUP, browserProvide, chromium, withBrowsers } from '../../vitest.shared.js';

// The tests import from src/, which loads the binaries from ../dist/: run `pnpm build` first
// (turbo's `test` task depends on `build`).
export default defineConfig({
  test: {
    browser: BROWSER_ROOT,
    projects: withBrowsers(
      [
        {
          test: {
            name: 'node',
            include: ['test/**/*.test.ts'],
            exclude: ['test/**/*.browser.test.ts', 'test/**/*.isolated.test.ts'],
            environment: 'node',
            testTimeout: 30_000,
          },
        },
      ],
      [
        {
          test: {
            name: 'browser',
            include: ['test/**/*.test.ts'],
            exclude: ['test/**/*.node.test.ts', 'test/**/*.isolated.test.ts'],
            testTimeout: 30_000,
            provide: browserProvide,
            setupFiles: [BROWSER_SETUP],
            browser: chromium(),
          },
        },
        {
          // The same page served cross-origin isolated (COOP/COEP), so SharedArrayBuffer exists and
          // the backend runs helper threads as module Web Workers on a shared memory.
          server: {
            headers: {
              'Cross-Origin-Opener-Policy': 'same-origin',
              'Cross-Origin-Embedder-Policy': 'require-corp',
            },
          },
          test: {
            name: 'browser-isolated',
            include: ['test/threads.isolated.test.ts', 'test/threads.test.ts', 'test/conformance.test.ts'],
            testTimeout: 30_000,
            provide: browserProvide,
            setupFiles: [BROWSER_SETUP],
            browser: chromium(),
          },
        },
      ],
    ),
  },
});
