import { runConformance } from '@cosinekit/conformance';
import { describe, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { webgpuSkipReason } from './available.js';

// Default tolerances (cosine 2e-5 absolute, algebra 1e-5 relative): float32 throughout.
const skip = await webgpuSkipReason();
if (skip) {
  console.log(`[webgpu] conformance skipped: ${skip}`);
  describe('conformance: webgpu', () => it.skip(`skipped: ${skip}`, () => {}));
} else {
  runConformance({ name: 'webgpu', create: () => createWebGpuBackend(), timeout: 120_000 });
}
