import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import { build, preview } from 'vite';
import { describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS as ARGS, CHROMIUM_PATH as CHROMIUM, hasChromium } from '../../../vitest.shared.js';
import type { BenchReport } from '../src/types.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe.skipIf(!hasChromium())('roofline on the benchmark page', () => {
  it('measures peak and bandwidth with Web Workers and gives B its share of the limit', {
    timeout: 300_000,
  }, async () => {
    await build({ root, logLevel: 'warn', build: { outDir: 'build/web-roofline', emptyOutDir: true } });
    const server = await preview({
      root,
      logLevel: 'warn',
      build: { outDir: 'build/web-roofline' },
      preview: { port: 0, host: '127.0.0.1' },
    });
    const port = (server.httpServer.address() as AddressInfo).port;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      const query = new URLSearchParams({
        workloads: 'roofline,B',
        scale: '0.01',
        backends: 'wasm',
        peers: 'naive',
        reps: '3',
        budget: '0.3',
        autorun: '1',
      });
      await page.goto(`http://127.0.0.1:${port}/?${query}`);
      await page.waitForFunction(
        () => window.benchReport !== undefined || window.benchError !== undefined,
        null,
        {
          timeout: 240_000,
        },
      );
      expect(await page.evaluate(() => window.benchError), logs.join('\n')).toBeUndefined();
      const report = (await page.evaluate(() => window.benchReport)) as BenchReport;
      const r = report.roofline!;
      // Cross-origin isolated: the all-thread figures come from Blob-URL workers on shared memory.
      expect(r.threads).toBeGreaterThan(1);
      for (const f of [r.peakMulAdd, r.bandwidth]) {
        expect(f.one.best).toBeGreaterThan(0);
        expect(f.all?.best).toBeGreaterThan(0);
      }
      // Chromium runs relaxed SIMD without a flag.
      expect(r.peakFma?.one.best).toBeGreaterThan(0);
      const timed = report.results.filter((x) => x.status === 'ok');
      expect(timed.length).toBeGreaterThan(0);
      for (const x of timed) expect(x.limit?.share, `${x.contender} ${x.method}`).toBeGreaterThan(0);
      expect(await page.textContent('#roofline')).toContain('Roofline of this machine');
    } finally {
      await browser.close();
      await new Promise<void>((res) => server.httpServer.close(() => res()));
    }
  });
});
