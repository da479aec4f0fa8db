// The consumer test in Chromium: serves the Vite build (build/) with `vite preview` on 127.0.0.1,
// opens each page in Debian's headless Chromium through playwright-core (which downloads no
// browser) and prints the pages' PASS/FAIL lines. Exits 1 on any failure, or when a page gives no
// result within TIMEOUT_MS.
import { chromium } from 'playwright-core';
import { preview } from 'vite';

const TIMEOUT_MS = 120_000;
const PAGES = ['index.html', 'isolated.html'];
const ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--enable-unsafe-webgpu',
];

/** Runs one page; resolves to its number of failures. */
async function runPage(browser, url, name) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) =>
    errors.push(`request failed: ${req.url()} (${req.failure()?.errorText})`),
  );
  page.on('response', (res) => {
    if (res.status() >= 400) errors.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  await page.goto(new URL(name, url).href);
  const result = await page
    .waitForFunction(() => window.consumerResult, undefined, { timeout: TIMEOUT_MS, polling: 250 })
    .then((h) => h.jsonValue())
    .catch(async (err) => {
      // What the page got through before it stalled.
      const shown = await page
        .locator('#log')
        .textContent()
        .catch(() => '');
      return {
        ok: false,
        lines: [{ ok: false, label: 'page', detail: `no result: ${err.message}\n${shown}` }],
      };
    });
  await page.close();
  let failed = 0;
  for (const { ok, label, detail } of result.lines) {
    if (!ok) failed++;
    console.log(`${ok ? 'PASS' : 'FAIL'} browser ${name}: ${label}: ${detail}`);
  }
  for (const e of errors) {
    failed++;
    console.log(`FAIL browser ${name}: ${e}`);
  }
  return failed || (result.ok ? 0 : 1);
}

const server = await preview({ logLevel: 'warn' });
const url = server.resolvedUrls?.local[0];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ARGS,
});
let failed = 0;
try {
  if (!url) throw new Error('vite preview did not report a URL');
  for (const name of PAGES) failed += await runPage(browser, url, name);
} finally {
  await browser.close();
  await server.close();
}
console.log(failed ? `browser: ${failed} check(s) FAILED` : 'browser: every check passed');
process.exit(failed ? 1 : 0);
