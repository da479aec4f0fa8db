import { defineConfig } from 'vitest/config';
import { BROWSER_ROOT, BROWSER_SETUP, browserProvide, chromium, withBrowsers } from '../../vitest.shared.js';

/**
 * Two projects: Node (webasm and cpu modes, plus headlessgl when `gl` is built and an X server is
 * present, e.g. under `xvfb-run -a`) and headless Chromium (webgl2 on SwiftShader). `*.node.test.ts`
 * files run in Node only, `*.browser.test.ts` files in the browser only.
 */
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
            include: ['test/**/*.test.ts'],
            exclude: ['test/**/*.node.test.ts'],
            testTimeout: 120_000,
            hookTimeout: 120_000,
            provide: browserProvide,
            setupFiles: [BROWSER_SETUP],
            browser: chromium({ screenshotFailures: false }),
          },
        },
      ],
    ),
  },
});
