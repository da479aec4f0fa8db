/**
 * What every package's vitest config shares: the Debian Chromium that browser projects drive
 * (playwright downloads no browser here), its flags, and the test settings forwarded into the page.
 */
import { existsSync } from 'node:fs';
import { playwright } from '@vitest/browser-playwright';

/** Debian's chromium, installed by scripts/setup.sh. */
export const CHROMIUM_PATH = process.env.COSINEKIT_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless, sandbox off (CI runs as root), no background networking (the machine has no network
 * beyond the registries), SwiftShader so WebGL2 works without a GPU, and WebGPU (which Chromium
 * hides on Linux and on software adapters unless asked) so its compute shaders run on SwiftShader.
 */
export const CHROMIUM_ARGS = [
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

let warned = false;

/** True when Chromium exists; otherwise says once, on stdout, why browser projects are skipped. */
export function hasChromium(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  if (!warned) {
    warned = true;
    console.log(
      `[vitest] browser projects skipped: no Chromium at ${CHROMIUM_PATH} (bash scripts/setup.sh installs it)`,
    );
  }
  return false;
}

/** The `test.browser` block of a Chromium project. */
export function chromium(extra: { screenshotFailures?: boolean } = {}) {
  return {
    enabled: true,
    headless: true,
    ...extra,
    provider: playwright({ launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS } }),
    instances: [{ browser: 'chromium' as const }],
  };
}

/**
 * vitest `provide` for browser projects: pages have no `process.env`, so the property-suite settings
 * (`COSINEKIT_PROPERTY_RUNS`, `COSINEKIT_SEED`) travel as provided context the suite injects.
 */
export const browserProvide = {
  cosinekitEnv: {
    COSINEKIT_PROPERTY_RUNS: process.env.COSINEKIT_PROPERTY_RUNS,
    COSINEKIT_SEED: process.env.COSINEKIT_SEED,
  },
};

/** The setup file that hands `browserProvide` to the page (list it in browser projects' setupFiles). */
export const BROWSER_SETUP = new URL('./vitest.browser-setup.ts', import.meta.url).pathname;

/** Keeps browser projects only where Chromium exists. */
export function withBrowsers<T>(node: T[], browsers: T[]): T[] {
  return hasChromium() ? [...node, ...browsers] : node;
}

/**
 * The root `test.browser` block of a config with browser projects. vitest reads how long a page may
 * take to connect from the root config, not the project; its default (60 s) is too short for
 * Chromium starting on a machine busy with the rest of the test run.
 */
export const BROWSER_ROOT = { connectTimeout: 300_000 };
