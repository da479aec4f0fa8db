import { cosineMatrix64, randomTensor } from '@cosinekit/conformance';
import { type CorpusOptions, referenceKernels as ref } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGpuBackend, type WebGpuBackend } from '../src/index.js';
import { webgpuSkipReason } from './available.js';

const skip = await webgpuSkipReason();
if (skip) console.log(`[webgpu] filtered-search tests skipped: ${skip}`);

const TOL = 2e-5;

/** Allowed rows in runs and singletons, with long refused stretches (whole tiles skipped). */
function allowOf(n: number, share: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const inRun = Math.floor(i / 50) % 7 === seed % 7;
    a[i] = inRun || ((Math.imul(i + seed, 2654435761) >>> 0) % 1000) / 1000 < share ? 1 : 0;
  }
  return a;
}

describe.skipIf(skip !== null)('webgpu corpusSearchAllowed', () => {
  let b: WebGpuBackend;
  let small: WebGpuBackend;
  beforeAll(async () => {
    b = createWebGpuBackend();
    // 4 KiB bindings and 4 workgroups per dimension: many blocks and tiles, most tiles refused.
    small = createWebGpuBackend({
      limits: {
        maxStorageBufferBindingSize: 4096,
        maxBufferSize: 8192,
        maxComputeWorkgroupStorageSize: 2048,
        maxComputeWorkgroupsPerDimension: 4,
      },
    });
  });
  afterAll(async () => {
    await b?.dispose?.();
    await small?.dispose?.();
  });

  const cases: { q: number; n: number; d: number; k: number; opts: CorpusOptions }[] = [
    { q: 1, n: 1500, d: 48, k: 5, opts: {} }, // one-pass kernel skips refused rows
    { q: 21, n: 900, d: 17, k: 10, opts: {} }, // tiled product, masked selection
    { q: 3, n: 700, d: 19, k: 70, opts: {} }, // host selection
    { q: 4, n: 800, d: 24, k: 6, opts: { storage: 'float16' } },
    { q: 2, n: 600, d: 13, k: 4, opts: { storage: 'int8', rerank: 3 } },
  ];
  for (const which of ['default', 'small limits'] as const) {
    it(`only allowed rows, the reference's answer, on every path (${which})`, async () => {
      const be = which === 'default' ? b : small;
      for (const [i, s] of cases.entries()) {
        const label = `${which} ${s.q}x${s.n}x${s.d} k=${s.k} ${s.opts.storage ?? 'float32'}`;
        const c = randomTensor(s.n, s.d, 30 + i);
        const q = randomTensor(s.q, s.d, 40 + i);
        const allow = allowOf(s.n, 0.05, i);
        const h = await be.kernels.createCorpus!(c, s.opts);
        const r = await ref.createCorpus(c, s.opts);
        try {
          const got = await be.kernels.corpusSearchAllowed!(h, q, s.k, allow);
          const want = await ref.corpusSearchAllowed!(r, q, s.k, allow);
          // Scores as each corpus defines them: the stored rows', or the float32 rows' after re-ranking.
          const truth =
            (s.opts.storage ?? 'float32') === 'float32' || s.opts.rerank
              ? cosineMatrix64(q, c)
              : await ref.corpusMatrix(r, q);
          for (let j = 0; j < got.indices.length; j++) {
            const row = got.indices[j];
            expect(allow[row], `${label}: row ${row} is refused`).toBe(1);
            const qi = Math.floor(j / s.k);
            expect(Math.abs(got.scores[j] - truth[qi * s.n + row]), label).toBeLessThanOrEqual(TOL);
            expect(Math.abs(got.scores[j] - want.scores[j]), label).toBeLessThanOrEqual(2 * TOL);
          }
          for (let qi = 0; qi < s.q; qi++) {
            const rows = got.indices.subarray(qi * s.k, (qi + 1) * s.k);
            expect(new Set(rows).size, label).toBe(s.k);
          }
        } finally {
          h.dispose();
          r.dispose();
        }
      }
    }, 120_000);
  }

  it('one allowed row among 5,000 (every other tile skipped), and every row allowed', async () => {
    const c = randomTensor(5000, 8, 1);
    const q = randomTensor(2, 8, 2);
    const h = await b.kernels.createCorpus!(c);
    try {
      const one = new Uint8Array(5000);
      one[4321] = 1;
      const r = await b.kernels.corpusSearchAllowed!(h, q, 1, one);
      expect(Array.from(r.indices)).toEqual([4321, 4321]);
      const all = await b.kernels.corpusSearchAllowed!(h, q, 9, new Uint8Array(5000).fill(1));
      const plain = await b.kernels.corpusSearch!(h, q, 9);
      expect(Array.from(all.indices)).toEqual(Array.from(plain.indices));
      expect(Array.from(all.scores)).toEqual(Array.from(plain.scores));
    } finally {
      h.dispose();
    }
    expect(b.stats().inUseBuffers).toBe(0);
  }, 120_000);
});
