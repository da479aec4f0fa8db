import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BROWSER_ROOT, BROWSER_SETUP, browserProvide, chromium, withBrowsers } from '../../vitest.shared.js';

/**
 * tfjs-wasm's binaries, for the page: its `dist/` directory as a Vite `/@fs/` URL (the page has no
 * file system and no CDN to fetch them from).
 */
function tfjsWasmDir(): string | undefined {
  try {
    const fromTfjs = createRequire(createRequire(import.meta.url).resolve('@cosinekit/backend-tfjs'));
    return `/@fs${dirname(fromTfjs.resolve('@tensorflow/tfjs-backend-wasm'))}/`;
  } catch {
    return undefined; // backend-tfjs not built: the browser file skips tfjs-wasm, saying so
  }
}

/**
 * Two projects: Node (every backend that runs there; headlessgl in a file of its own) and headless
 * Chromium (`*.browser.test.ts`: the backends that only run in a browser, tfjs-webgl/webgpu, gpujs
 * webgl2 and WebGPU on SwiftShader, and the wasm backends as a page loads them).
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
            // A guard against hangs, not a speed check: real training runs take a few seconds,
            // and past vitest's 5 s default on a loaded 2-core machine (three failed so in CI).
            testTimeout: 60_000,
          },
        },
      ],
      [
        {
          // Pre-bundled up front: tfjs together (one tfjs-core for all its engines) and gpu.js
          // (CommonJS); a dependency found mid-run makes Vite re-optimise and pending imports fail.
          optimizeDeps: {
            include: [
              '@cosinekit/backend-tfjs > @tensorflow/tfjs-core',
              '@cosinekit/backend-tfjs > @tensorflow/tfjs-backend-cpu',
              '@cosinekit/backend-tfjs > @tensorflow/tfjs-backend-wasm',
              '@cosinekit/backend-tfjs > @tensorflow/tfjs-backend-webgl',
              '@cosinekit/backend-tfjs > @tensorflow/tfjs-backend-webgpu',
              '@cosinekit/backend-gpujs > gpu.js',
            ],
          },
          test: {
            name: 'browser',
            include: ['test/**/*.browser.test.ts'],
            testTimeout: 120_000,
            hookTimeout: 120_000,
            provide: { ...browserProvide, tfjsWasmDir: tfjsWasmDir() },
            setupFiles: [BROWSER_SETUP],
            browser: chromium({ screenshotFailures: false }),
          },
        },
      ],
    ),
  },
});
