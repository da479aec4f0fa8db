import { defineConfig } from 'vitest/config';
import { BROWSER_SETUP, browserProvide, chromium, withBrowsers } from '../../vitest.shared.js';

// The kit starts the built worker script (dist/worker.js): run `pnpm build` first (turbo's `test`
// task depends on `build`). The browser test serves its own worker script through vite.
export default defineConfig({
  test: {
    projects: withBrowsers(
      [
        {
          test: {
            name: 'node',
            include: ['test/**/*.test.ts'],
            exclude: ['test/**/*.browser.test.ts'],
            environment: 'node',
            testTimeout: 60_000,
            hookTimeout: 60_000,
          },
        },
      ],
      [
        {
          test: {
            name: 'browser',
            include: ['test/**/*.browser.test.ts'],
            testTimeout: 180_000,
            hookTimeout: 180_000,
            provide: browserProvide,
            setupFiles: [BROWSER_SETUP],
            browser: chromium({ screenshotFailures: false }),
          },
        },
        {
          // The same page cross-origin isolated: SharedArrayBuffer exists, so the abort flag is shared.
          server: {
            headers: {
              'Cross-Origin-Opener-Policy': 'same-origin',
              'Cross-Origin-Embedder-Policy': 'require-corp',
            },
          },
          test: {
            name: 'browser-isolated',
            include: ['test/**/*.browser.test.ts'],
            testTimeout: 180_000,
            hookTimeout: 180_000,
            provide: browserProvide,
            setupFiles: [BROWSER_SETUP],
            browser: chromium({ screenshotFailures: false }),
          },
        },
      ],
    ),
  },
});
