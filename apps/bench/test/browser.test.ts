import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import { build, preview } from 'vite';
import { describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS as ARGS, CHROMIUM_PATH as CHROMIUM, hasChromium } from '../../../vitest.shared.js';
import { parseReport, toJson } from '../src/report/json.js';
import type { BenchReport } from '../src/types.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const shots = fileURLToPath(new URL('../bench-results/', import.meta.url));

const BACKENDS = ['reference', 'wasm', 'tfjs-wasm', 'tfjs-webgl', 'gpujs-webgl2'];

describe.skipIf(!hasChromium())('benchmark page in Chromium', () => {
  it('runs a small preset with every backend and every result correct', { timeout: 300_000 }, async () => {
    await build({ root, logLevel: 'warn' });
    const server = await preview({ root, logLevel: 'warn', preview: { port: 0, host: '127.0.0.1' } });
    const port = (server.httpServer.address() as AddressInfo).port;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
      const logs: string[] = [];
      page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      const query = new URLSearchParams({
        workloads: 'A,B,C',
        scale: '0.02',
        backends: BACKENDS.join(','),
        reps: '3',
        budget: '0.3',
        autorun: '1',
      });
      await page.goto(`http://127.0.0.1:${port}/?${query}`);
      await page
        .waitForFunction(() => window.benchReport !== undefined || window.benchError !== undefined, null, {
          timeout: 240_000,
        })
        .catch(async (err: unknown) => {
          // Say how far it got: the progress label names the contender and workload that stalled.
          const at = await page.textContent('#label').catch(() => '?');
          throw new Error(`the page stalled at '${at}': ${String(err)}\n${logs.join('\n')}`);
        });
      const error = await page.evaluate(() => window.benchError);
      expect(error, logs.join('\n')).toBeUndefined();
      const report = (await page.evaluate(() => window.benchReport)) as BenchReport;
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: `${shots}browser.png`, fullPage: true });
      writeFileSync(`${shots}browser.json`, toJson(report));

      const unavailable = report.contenders.filter((c) => !c.available).map((c) => `${c.id}: ${c.reason}`);
      expect(unavailable, 'every backend and peer starts in Chromium').toEqual([]);
      const bad = report.results
        .filter((r) => r.status !== 'ok')
        .map((r) => `${r.workload} ${r.contender} ${r.method}: ${r.note}`);
      expect(bad).toEqual([]);
      for (const id of BACKENDS) {
        const figures = report.results.filter((r) => r.contender === id);
        expect(figures.length, id).toBeGreaterThanOrEqual(3);
      }
      // The GPU backends say what ran: tfjs on webgl, gpu.js with a WebGL2 kernel.
      const details = (id: string) => JSON.stringify(report.contenders.find((c) => c.id === id)?.details);
      expect(details('tfjs-webgl')).toMatch(/webgl/i);
      expect(details('gpujs-webgl2')).toMatch(/webgl2/i);
      // The page is cross-origin isolated, so the wasm backend gets its helper threads.
      expect(report.environment.crossOriginIsolated).toBe(true);
      expect(await page.locator('#chart svg').count()).toBe(1);
      // The download button hands over the same report as JSON.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
      const saved = `${shots}browser-download.json`;
      await download.saveAs(saved);
      expect(parseReport(readFileSync(saved, 'utf8')).results).toHaveLength(report.results.length);
      expect(await page.locator('tr.bad').count()).toBe(0);
    } finally {
      await browser.close();
      await new Promise<void>((r) => server.httpServer.close(() => r()));
    }
  });
});
