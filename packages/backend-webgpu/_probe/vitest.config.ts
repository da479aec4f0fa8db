import { defineConfig } from 'vitest/config';
import { BROWSER_ROOT, BROWSER_SETUP, browserProvide, chromium } from '../../../vitest.shared.js';

export default defineConfig({
  test: {
    browser: BROWSER_ROOT,
    projects: [
      {
        test: {
          name: 'probe',
          include: ['**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          provide: browserProvide,
          setupFiles: [BROWSER_SETUP],
          browser: chromium({ screenshotFailures: false }),
        },
      },
    ],
  },
});
