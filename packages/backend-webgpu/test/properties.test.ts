import { runProperties } from '@cosinekit/conformance';
import { describe, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { webgpuSkipReason } from './available.js';

/**
 * Default tolerances (cosine 2e-5 absolute, algebra 1e-5 relative): every kernel computes in float32
 * with f32 accumulation. Runs per property: COSINEKIT_PROPERTY_RUNS (default 25); on llvmpipe 100
 * runs of each property take about 25 s.
 */
const env =
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ??
  (globalThis as { __COSINEKIT_ENV__?: Record<string, string | undefined> }).__COSINEKIT_ENV__;
const RUNS = Number(env?.COSINEKIT_PROPERTY_RUNS) || 25;

const skip = await webgpuSkipReason();
if (skip) {
  console.log(`[webgpu] properties skipped: ${skip}`);
  describe('properties: webgpu', () => it.skip(`skipped: ${skip}`, () => {}));
} else {
  runProperties({
    name: 'webgpu',
    create: () => createWebGpuBackend(),
    numRuns: RUNS,
    timeout: 300_000,
  });
}
