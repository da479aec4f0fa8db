import { runProperties } from '@cosinekit/conformance';
import { describe, it } from 'vitest';
import { createGpujsBackend, type RunMode } from '../src/index.js';
import { testedModes } from './modes.js';

/**
 * Default tolerances (cosine 2e-5 absolute, algebra 1e-5 relative) on every mode: GPU.js computes in
 * float32 everywhere (webasm and cpu in JavaScript rounded to float32, the GL modes in float32
 * textures), so a cosine carries about sqrt(d) * 6e-8 of rounding, 4e-6 at d = 4096.
 *
 * Runs per property: 25 (or COSINEKIT_PROPERTY_RUNS) on webasm and cpu; the software-GL modes
 * (headlessgl in Node, webgl2 on SwiftShader in Chromium) spend milliseconds per kernel call in
 * shader compiles and read-backs (headlessgl: about 2 minutes for 300 runs of each property), so
 * they run a third of that.
 */
// process.env in Node; in browser pages, the copy vitest.browser-setup.ts publishes.
const env =
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ??
  (globalThis as { __COSINEKIT_ENV__?: Record<string, string | undefined> }).__COSINEKIT_ENV__;
const RUNS = Number(env?.COSINEKIT_PROPERTY_RUNS) || 25;
const runsFor = (mode: RunMode) =>
  mode === 'webasm' || mode === 'cpu' ? RUNS : Math.max(3, Math.ceil(RUNS / 3));

// WebGL1 in Chromium runs the package's own tests only (as in the conformance suite).
for (const { mode, skip } of testedModes().filter((m) => m.mode !== 'webgl')) {
  if (skip) {
    // Printed, so a run says why; CI runs these under xvfb-run with gl built (scripts/setup.sh).
    console.log(`[gpujs] properties for ${mode} skipped: ${skip}`);
    describe(`properties: gpujs ${mode}`, () => it.skip(`skipped: ${skip}`, () => {}));
    continue;
  }
  runProperties({
    name: `gpujs ${mode}`,
    create: () => createGpujsBackend({ mode }),
    numRuns: runsFor(mode),
    timeout: 300_000,
  });
}
