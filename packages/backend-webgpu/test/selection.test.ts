import { checkTopK } from '@cosinekit/conformance';
import type { Matrix } from '@cosinekit/core/backend';
import { describe, expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { webgpuSkipReason } from './available.js';

const skip = await webgpuSkipReason();
if (skip) console.log(`[webgpu] selection tests skipped: ${skip}`);

/**
 * Rows on the unit circle whose cosine with the query (1, 0) rises with the row index: every row
 * beats the ones before it, the worst case for a running selection (each candidate enters and
 * shifts the whole list). `ties` rows repeat the last angle, so equal scores must keep index order.
 */
function ascending(n: number, ties: number): { q: Matrix; c: Matrix } {
  const data = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const angle = Math.PI * (1 - Math.min(i, n - ties) / n);
    data[2 * i] = Math.cos(angle);
    data[2 * i + 1] = Math.sin(angle);
  }
  return { q: { data: new Float32Array([1, 0]), rows: 1, cols: 2 }, c: { data, rows: n, cols: 2 } };
}

describe.skipIf(skip !== null)('webgpu top-k selection', () => {
  it('ascending scores over 20,000 rows (every candidate enters): exact at k = 64 on the device', async () => {
    const b = createWebGpuBackend();
    try {
      const { q, c } = ascending(20_000, 5);
      for (const k of [1, 10, 64])
        checkTopK(`ascending k=${k}`, await b.kernels.topK!(q, c, k), q, c, k, 2e-5);
    } finally {
      await b.dispose?.();
    }
  }, 120_000);

  it('k above the device limit (65, and k = N = 3,000) selects on the host from score tiles, still exact', async () => {
    const b = createWebGpuBackend();
    try {
      const { q, c } = ascending(3_000, 3);
      for (const k of [65, 3_000]) {
        const r = await b.kernels.topK!(q, c, k);
        checkTopK(`ascending k=${k}`, r, q, c, k, 2e-5);
        expect(Math.min(...r.indices)).toBeGreaterThanOrEqual(0);
      }
    } finally {
      await b.dispose?.();
    }
  }, 120_000);
});
