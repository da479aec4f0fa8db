import { runConformance } from '@cosinekit/conformance';
import { describe, it } from 'vitest';
import { createGpujsBackend } from '../src/index.js';
import { testedModes } from './modes.js';

// Default tolerances (cosine 2e-5 absolute, algebra 1e-5 relative): single precision on every mode.
for (const { mode, skip } of testedModes()) {
  if (skip) {
    describe(`conformance: gpujs ${mode}`, () => it.skip(`skipped: ${skip}`, () => {}));
    continue;
  }
  runConformance({ name: `gpujs ${mode}`, create: () => createGpujsBackend({ mode }) });
}
