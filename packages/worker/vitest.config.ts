import { defineConfig } from 'vitest/config';
import { BROWSER_ROOT, BROWSER_SETUP, browserProvide, chromium, withBrowsers } from '../../vitest.shared.js';

/**
 * Rows of the browser test's corpus (x 384): 200,000 in the plain page, 100,000 in the isolated one
 * (there for the shared abort flag); `COSINEKIT_WORKER_ROWS=1000000` sets both, for the size
 * by hand. Timeouts grow with the rows (building is most of the time).
 */
const rows = (fallback: number) => Number(process.env.COSINEKIT_WORKER_ROWS ?? fallback);
const provide = (n: number) => ({ ...browserProvide, workerRows: n });
const timeout = (n: number) => Math.max(180_000, Math.ceil(n / 200_000) * 180_000);

// The kit starts the built worker script (dist/worker.js): run `pnpm build` first (turbo's `test`
// task depends on `build`). The browser test serves its own worker script through vite.
export default defineConfig({
  test: {
    browser: BROWSER_ROOT,
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
            testTimeout: timeout(rows(200_000)),
            hookTimeout: timeout(rows(200_000)),
            provide: provide(rows(200_000)),
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
            testTimeout: timeout(rows(100_000)),
            hookTimeout: timeout(rows(100_000)),
            provide: provide(rows(100_000)),
            setupFiles: [BROWSER_SETUP],
            browser: chromium({ screenshotFailures: false }),
          },
        },
      ],
    ),
  },
});
