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

const BACKENDS = ['reference', 'wasm', 'tfjs-wasm', 'tfjs-webgl', 'gpujs-webgl2', 'webgpu', 'tfjs-webgpu'];

describe.skipIf(!hasChromium())('benchmark page in Chromium', () => {
  it('runs a small preset with every backend and every result correct', { timeout: 300_000 }, async () => {
    await build({ root, logLevel: 'warn' });
    const server = await preview({ root, logLevel: 'warn', preview: { port: 0, host: '127.0.0.1' } });
    const port = (server.httpServer.address() as AddressInfo).port;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
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
      await page.screenshot({ path: `${shots}browser.png` });
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
      // Quantised corpora are timed on each backend that stores them itself: int8 and float16 on
      // wasm and on webgpu (each checked above: within its tolerance; re-ranked, recall@10 >= 0.99).
      const quantised = (id: string) =>
        report.results.filter((r) => r.workload === 'B' && r.contender === id && / corpus/.test(r.method));
      expect(quantised('wasm').map((r) => r.method)).toEqual([
        'int8 corpus',
        'int8 corpus, re-rank 3k',
        'float16 corpus',
      ]);
      expect(quantised('webgpu').map((r) => r.method)).toEqual([
        'int8 corpus',
        'int8 corpus, re-rank 3k',
        'float16 corpus',
      ]);
      // The GPU backends say what ran: tfjs on webgl, gpu.js with a WebGL2 kernel.
      const details = (id: string) => JSON.stringify(report.contenders.find((c) => c.id === id)?.details);
      expect(details('tfjs-webgl')).toMatch(/webgl/i);
      expect(details('gpujs-webgl2')).toMatch(/webgl2/i);
      // Both WebGPU paths run, on SwiftShader here, and webgpu says its figures are emulated.
      expect(details('tfjs-webgpu')).toMatch(/webgpu/i);
      expect(details('webgpu')).toMatch(/WebGPU/);
      if (/swiftshader/i.test(details('webgpu'))) {
        expect(details('webgpu')).toMatch(/CPU emulation, correctness only/);
        // And each of its figures carries the mark, in the report and in the page's table.
        const figures = report.results.filter((r) => r.contender === 'webgpu' && r.timing);
        expect(figures.map((r) => r.emulated)).toEqual(
          figures.map(() => expect.stringMatching(/swiftshader/i)),
        );
        const rows = page.locator('tr[data-contender="webgpu"]');
        expect(await rows.filter({ hasText: '(emulated)' }).count()).toBe(figures.length);
      }
      // The page is cross-origin isolated, so the wasm backend gets its helper threads.
      expect(report.environment.crossOriginIsolated).toBe(true);
      expect(await page.locator('#chart svg').count()).toBe(1);

      // The picture first, at 1280 x 800: one answer line per workload, computed from this run, then
      // the chart, both on the first screen; the environment folded; no sideways scrolling.
      const answerLines = await page.locator('#answer li').allTextContents();
      expect(answerLines).toHaveLength(3);
      for (const line of answerLines) {
        expect(line).toMatch(/^On this device, for [ABC] \(.*\): use \S+ .*(faster than|level within)/);
      }
      const best = report.results
        .filter((r) => r.workload === 'C' && r.status === 'ok' && !r.note?.includes('approximate'))
        .sort((a, b) => a.nsPerPair! - b.nsPerPair!)[0];
      expect(answerLines[2]).toContain(`use ${best.contender} ${best.method}`);
      const chartTop = (await page.locator('#chart svg').boundingBox())!.y;
      expect(chartTop).toBeLessThan(400);
      expect((await page.locator('#answer').boundingBox())!.y).toBeLessThan(chartTop);
      expect(await page.locator('#environment').getAttribute('open')).toBeNull();
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
      // The chart: a bar and a spread whisker per timed figure, every label inside the drawing.
      const timed = report.results.filter((r) => r.nsPerPair !== undefined && r.nsPerPair > 0).length;
      expect(await page.locator('#chart svg rect.bar').count()).toBe(timed);
      expect(await page.locator('#chart svg g.spread').count()).toBe(timed);
      const outside = await page.evaluate(() => {
        const svg = document.querySelector('#chart svg') as SVGSVGElement;
        const width = svg.viewBox.baseVal.width;
        return [...svg.querySelectorAll('text')]
          .map((t) => ({ text: t.textContent, box: t.getBBox() }))
          .filter(({ box }) => box.x < 0 || box.x + box.width > width)
          .map(({ text }) => text);
      });
      expect(outside, 'labels cut off at the edge of the chart').toEqual([]);
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
  it('refuses settings it cannot run, saying why (each ran a quiet default, or measured nothing and passed)', {
    timeout: 300_000,
  }, async () => {
    await build({ root, logLevel: 'warn' });
    const server = await preview({ root, logLevel: 'warn', preview: { port: 0, host: '127.0.0.1' } });
    const port = (server.httpServer.address() as AddressInfo).port;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage();
      const base = 'backends=reference&peers=naive&reps=1&budget=0.2&autorun=1';
      for (const [query, message] of [
        ['workloads=X', /unknown workload 'X'/],
        ['workloads=', /workloads is empty/],
        ['workloads=A&scale=abc', /scale must be a number/],
        ['workloads=A&scale=0', /scale must be a number/],
        ['workloads=A&reps=3e9', /reps must be an integer/],
        ['workloads=A&budgets=1', /unknown setting 'budgets'/],
        ['workloads=A&baseline=bogus', /baseline 'bogus' names no contender/],
        ['workloads=A&seed=abc', /seed must be an integer/],
        ['workloads=sweep&grid=q=0', /positive integers/],
      ] as const) {
        // The query's own value wins over the base's (first one wins in URLSearchParams.get).
        await page.goto(`http://127.0.0.1:${port}/?${query}&${base}`);
        await page.waitForFunction(
          () => window.benchReport !== undefined || window.benchError !== undefined,
          null,
          {
            timeout: 60_000,
          },
        );
        expect(await page.evaluate(() => window.benchReport), query).toBeUndefined();
        expect(await page.textContent('#status'), query).toMatch(message);
      }
    } finally {
      await browser.close();
      await new Promise<void>((r) => server.httpServer.close(() => r()));
    }
  });
});
