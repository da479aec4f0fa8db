import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import { build, preview } from 'vite';
import { describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS as ARGS, CHROMIUM_PATH as CHROMIUM, hasChromium } from '../../../vitest.shared.js';
import type { BenchReport } from '../src/types.js';

const root = fileURLToPath(new URL('..', import.meta.url));

// PGlite, its data files and the pgvector extension bundle are assets of the page's own build: the
// corpus lives in Postgres in the tab (in memory), and every result is checked against float64.
describe.skipIf(!hasChromium())('pgvector on the benchmark page', () => {
  it('PGlite with pgvector runs in Chromium: exact and HNSW search, every exact result correct', {
    // The page build and PGlite's start (about 15 MB of wasm and data) are most of it.
    timeout: 420_000,
  }, async () => {
    await build({ root, logLevel: 'error', build: { outDir: 'build/web-pgvector', emptyOutDir: true } });
    const server = await preview({
      root,
      logLevel: 'warn',
      build: { outDir: 'build/web-pgvector' },
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
        workloads: 'B',
        scale: '0.02',
        backends: 'pgvector,pgvector-hnsw@100',
        peers: 'naive',
        reps: '2',
        budget: '0.3',
        autorun: '1',
      });
      await page.goto(`http://127.0.0.1:${port}/?${query}`);
      await page
        .waitForFunction(() => window.benchReport !== undefined || window.benchError !== undefined, null, {
          timeout: 300_000,
        })
        .catch(async (err: unknown) => {
          const at = await page.textContent('#label').catch(() => '?');
          throw new Error(`the page stalled at '${at}': ${String(err)}\n${logs.join('\n')}`);
        });
      expect(await page.evaluate(() => window.benchError), logs.join('\n')).toBeUndefined();
      const report = (await page.evaluate(() => window.benchReport)) as BenchReport;
      const unavailable = report.contenders.filter((c) => !c.available).map((c) => `${c.id}: ${c.reason}`);
      expect(unavailable, logs.join('\n')).toEqual([]);
      const exact = report.contenders.find((c) => c.id === 'pgvector');
      expect(JSON.stringify(exact?.details)).toMatch(/PGlite/);
      expect(JSON.stringify(exact?.details)).toMatch(/exact/);
      const figures = report.results.filter((r) => r.contender === 'pgvector');
      expect(figures.length).toBeGreaterThan(0);
      for (const r of figures) expect(r.status, `${r.method}: ${r.note}`).toBe('ok');
      // HNSW is approximate: it ran and reported itself so; its recall is measured, not required.
      const hnsw = report.contenders.find((c) => c.id === 'pgvector-hnsw@100');
      expect(JSON.stringify(hnsw?.details)).toMatch(/approximate: HNSW/);
      expect(report.results.filter((r) => r.contender === 'pgvector-hnsw@100').length).toBeGreaterThan(0);
    } finally {
      await browser.close();
      await new Promise<void>((res) => server.httpServer.close(() => res()));
    }
  });
});
