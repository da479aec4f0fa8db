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

  it('no query rows answer empty, as on the reference (they were refused as "k = 1 does not fit the storage binding limit")', async () => {
    const b = createWebGpuBackend();
    try {
      const k = b.kernels;
      const none: Matrix = { data: new Float32Array(0), rows: 0, cols: 2 };
      const c: Matrix = { data: new Float32Array([1, 2, 3, 4, 5, 6]), rows: 3, cols: 2 };
      expect((await k.topK!(none, c, 2)).indices.length).toBe(0);
      expect((await k.cosineMatrix!(none, c)).length).toBe(0);
      // Every storage, re-ranked or not (the re-rank pass refused them too, as a dispatch limit).
      for (const [storage, rerank] of [
        ['float32', 0],
        ['int8', 0],
        ['int8', 2],
        ['float16', 2],
      ] as const) {
        const h = await k.createCorpus!(c, { storage, rerank });
        try {
          for (const r of [
            await k.corpusSearch!(h, none, 2),
            await k.corpusSearchAllowed!(h, none, 2, new Uint8Array(3).fill(1)),
          ]) {
            expect(r.indices.length, `${storage} ${rerank}`).toBe(0);
            expect(r.scores.length, `${storage} ${rerank}`).toBe(0);
          }
          expect((await k.corpusMatrix!(h, none)).length, `${storage} ${rerank}`).toBe(0);
        } finally {
          h.dispose();
        }
      }
    } finally {
      await b.dispose?.();
    }
  }, 120_000);

  it('rows that are multiples of one another tie as on the reference: equal scores, index order (they were a float32 step apart)', async () => {
    const b = createWebGpuBackend();
    try {
      // 12 multiples of (3, -5) and of (1, 2, -7): near-duplicates at other scales, as deduplication meets them.
      for (const v of [
        [3, -5],
        [1, 2, -7],
      ]) {
        const d = v.length;
        const n = 12;
        const data = new Float32Array(n * d);
        for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) data[i * d + j] = v[j] * (i + 1);
        const c = { data, rows: n, cols: d };
        const q = { data: Float32Array.from({ length: d }, (_, j) => (j === 0 ? 2 : -1)), rows: 1, cols: d };
        const h = await b.kernels.createCorpus!(c, { storage: 'float32', rerank: 0 });
        const r = await b.kernels.corpusSearch!(h, q, n);
        h.dispose();
        expect(Array.from(r.indices), `${v}`).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(new Set(r.scores).size, `${v}`).toBe(1);
      }
    } finally {
      await b.dispose?.();
    }
  }, 120_000);
});
