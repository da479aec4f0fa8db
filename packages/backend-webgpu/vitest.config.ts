import { defineConfig } from 'vitest/config';
import { BROWSER_ROOT, BROWSER_SETUP, browserProvide, chromium, withBrowsers } from '../../vitest.shared.js';

/**
 * Two projects: Node (Dawn from the `webgpu` package: OpenGL ES on Mesa llvmpipe without a GPU)
 * and headless Chromium (WebGPU on SwiftShader, `--enable-unsafe-webgpu`).
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
            testTimeout: 120_000,
            hookTimeout: 120_000,
          },
        },
      ],
      [
        {
          test: {
            name: 'browser',
            include: ['test/**/*.test.ts'],
            exclude: ['test/**/*.node.test.ts'],
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
