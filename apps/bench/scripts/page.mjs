#!/usr/bin/env node
/**
 * Runs the benchmark page in headless Chromium and prints what it shows: the environment, the
 * roofline section (this machine's limits measured in the browser's own wasm engine, and each B and
 * C figure's share of the limit that binds it) and the shape sweep. Builds the page (vite build),
 * serves it cross-origin isolated on 127.0.0.1, opens `?<query>&autorun=1` and writes the reports'
 * JSON to apps/bench/bench-results/page.json (and page-sweep.json when the sweep ran).
 *
 *   node apps/bench/scripts/page.mjs [query]
 *   default: workloads=roofline,B,C,sweep&backends=wasm,tfjs-wasm&peers=naive,tfjs-fast
 *   e.g.     node apps/bench/scripts/page.mjs 'workloads=roofline,sweep&grid=q=1,64;n=10000;d=384'
 *
 * Chromium's path and flags are the test setup's (vitest.shared.ts), loaded through Vite. Exits 1
 * when the page reports a wrong result, 2 when it refuses its settings or the arguments are not one
 * query.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import { build, preview, runnerImport } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const repo = resolve(root, '../..');
/** The page's own refusal of its settings (its status line), as opposed to a failure of this script. */
class PageRefused extends Error {}

const args = process.argv.slice(2);
// One query or none: a flag, a URL, an encoded query or a second argument ran the full default
// suite for minutes (or was ignored) without a word.
const usage = (why) => {
  console.error(`page.mjs: ${why}\nusage: node apps/bench/scripts/page.mjs ['key=value&key=value...']`);
  process.exit(2);
};
if (args.length > 1) usage(`takes one query, got ${args.length} arguments.`);
const query = args[0] ?? 'workloads=roofline,B,C,sweep&backends=wasm,tfjs-wasm&peers=naive,tfjs-fast';
if (
  args.length === 1 &&
  (/^-/.test(query) || /^[a-z]+:\/\//i.test(query) || !query.replace(/^\?/, '').includes('='))
)
  usage(`'${query}' is not a query like 'workloads=A,B&backends=wasm'.`);
const params = new URLSearchParams(query);
params.set('autorun', '1');
const wantsSweep = (params.get('workloads') ?? '')
  .split(',')
  .map((s) => s.trim())
  .includes('sweep');
const { module: shared } = await runnerImport(resolve(repo, 'vitest.shared.ts'));
const outDir = 'build/web-page-run';

await build({ root, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
const server = await preview({
  root,
  logLevel: 'warn',
  build: { outDir },
  preview: { port: 0, host: '127.0.0.1' },
});
const { port } = server.httpServer.address();
const browser = await chromium.launch({ executablePath: shared.CHROMIUM_PATH, args: shared.CHROMIUM_ARGS });
let code = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => console.error(`pageerror: ${e.message}`));
  const t0 = performance.now();
  const tick = setInterval(async () => {
    const at = await page.textContent('#label').catch(() => '');
    console.error(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${at}`);
  }, 15_000);
  try {
    await page.goto(`http://127.0.0.1:${port}/?${params}`);
    await page.waitForFunction(
      // The page sets both reports at once, when everything ticked has run.
      (sweep) =>
        window.benchError !== undefined ||
        (sweep ? window.sweepReport !== undefined : window.benchReport !== undefined),
      wantsSweep,
      { timeout: 0, polling: 500 },
    );
  } finally {
    clearInterval(tick);
  }
  const error = await page.evaluate(() => window.benchError);
  // The page refused its settings (or failed to start): its message, exit 2 as the CLI's usage errors.
  if (error) throw new PageRefused(await page.textContent('#status'));
  const report = await page.evaluate(() => window.benchReport);
  const sweep = await page.evaluate(() => window.sweepReport);
  const env = (report ?? sweep).environment;
  console.log(`${new Date().toISOString()}  ?${params}`);
  console.log(`  ${env.runtime}, ${env.platform}, ${env.cores} cores (navigator.hardwareConcurrency)`);
  console.log(
    `  wasm SIMD: ${env.wasmSimd}; cross-origin isolated: ${env.crossOriginIsolated}; timer: ${env.timer}`,
  );
  const roofline = await page.textContent('#roofline');
  if (roofline) console.log(`\n${roofline}`);
  const sweepText = await page.textContent('#sweep');
  if (sweepText) console.log(`\n${sweepText}`);
  console.log(`\n${await page.textContent('#status')}`);
  const dir = resolve(root, 'bench-results');
  mkdirSync(dir, { recursive: true });
  if (report) writeFileSync(resolve(dir, 'page.json'), `${JSON.stringify(report, null, 2)}\n`);
  if (sweep) writeFileSync(resolve(dir, 'page-sweep.json'), `${JSON.stringify(sweep, null, 2)}\n`);
  console.log(
    `JSON written to ${[report && 'bench-results/page.json', sweep && 'bench-results/page-sweep.json'].filter(Boolean).join(' and ')}`,
  );
  if ((report && !report.ok) || (sweep && !sweep.ok)) code = 1;
} catch (e) {
  if (!(e instanceof PageRefused)) throw e;
  console.error(`page.mjs: the page could not run: ${e.message}`);
  code = 2;
} finally {
  await browser.close();
  await new Promise((r) => server.httpServer.close(() => r()));
}
process.exitCode = code;
