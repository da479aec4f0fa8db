#!/usr/bin/env node
/**
 * The README's picture of the benchmark page: builds the page (vite build), serves it on
 * 127.0.0.1, runs it in Chromium at 1280 x 800 and saves what a reader sees first, as PNG.
 *
 *   node apps/bench/scripts/screenshot.mjs [out.png] [query]
 *   default: docs/bench/page.png, workloads=A,B,C&scale=0.1&autorun=1
 *
 * Chromium's path and flags are the test setup's (vitest.shared.ts), loaded through Vite.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import { build, preview, runnerImport } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const repo = resolve(root, '../..');
const out = resolve(process.argv[2] ?? resolve(repo, 'docs/bench/page.png'));
const query = process.argv[3] ?? 'workloads=A,B,C&scale=0.1&autorun=1';
const { module: shared } = await runnerImport(resolve(repo, 'vitest.shared.ts'));

await build({ root, logLevel: 'warn' });
const server = await preview({ root, logLevel: 'warn', preview: { port: 0, host: '127.0.0.1' } });
const { port } = server.httpServer.address();
const browser = await chromium.launch({ executablePath: shared.CHROMIUM_PATH, args: shared.CHROMIUM_ARGS });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`http://127.0.0.1:${port}/?${query}`);
  await page.waitForFunction(
    () => window.benchReport !== undefined || window.benchError !== undefined,
    null,
    {
      timeout: 600_000,
    },
  );
  const error = await page.evaluate(() => window.benchError);
  if (error) throw new Error(error);
  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out });
  console.log(`${out} written (1280 x 800, ${query})`);
} finally {
  await browser.close();
  await new Promise((r) => server.httpServer.close(() => r()));
}
