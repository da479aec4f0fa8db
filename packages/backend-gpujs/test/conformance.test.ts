import { runConformance } from '@cosinekit/conformance';
import { describe, it } from 'vitest';
import { createGpujsBackend } from '../src/index.js';
import { testedModes } from './modes.js';

// Default tolerances (cosine 2e-5 absolute, algebra 1e-5 relative): single precision on every mode.
// WebGL1 in Chromium runs the package's own tests only, to keep the browser project near 30 s;
// headlessgl (WebGL1 through ANGLE) runs the whole suite in Node.
for (const { mode, skip } of testedModes().filter((m) => m.mode !== 'webgl')) {
  if (skip) {
    // Printed, so a run says why; CI runs these under xvfb-run with gl built (scripts/setup.sh).
    console.log(`[gpujs] conformance for ${mode} skipped: ${skip}`);
    describe(`conformance: gpujs ${mode}`, () => it.skip(`skipped: ${skip}`, () => {}));
    continue;
  }
  runConformance({ name: `gpujs ${mode}`, create: () => createGpujsBackend({ mode }) });
}
