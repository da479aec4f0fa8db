import { defineConfig } from 'vitest/config';
import { BROWSER_ROOT, BROWSER_SETUP, browserProvide, chromium, withBrowsers } from '../../vitest.shared.js';

const TFJS = [
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-webgl',
  '@tensorflow/tfjs-backend-webgpu',
];

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
          },
        },
      ],
      [
        {
          // Dependencies pre-bundled up front: tfjs together, so its packages share one tfjs-core, and
          // everything a test imports lazily, since a dependency found mid-run makes Vite re-optimise
          // and the page's pending dynamic imports fail.
          optimizeDeps: { include: [...TFJS, '@cosinekit/conformance > fast-check'] },
          test: {
            name: 'browser',
            include: ['test/**/*.test.ts'],
            exclude: ['test/**/*.node.test.ts'],
            testTimeout: 60_000,
            provide: browserProvide,
            setupFiles: [BROWSER_SETUP],
            browser: chromium(),
          },
        },
      ],
    ),
  },
});
