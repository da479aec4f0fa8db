import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TILES, type WasmBackend } from '../src/index.js';
import { backend, bits, expectClose, random, ref, tolFor, VARIANTS } from './helpers.js';

/**
 * Query rows: one, fewer than a query panel, a panel and a few left over (1, 2 or 3 of them);
 * corpus rows: one, fewer than two panels, and an odd number of panels (a window left over);
 * d: 1, odd, off the 4-float step, and long rows whose steps are not a multiple of the block.
 */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [2, 7, 3],
  [3, 33, 17],
  [5, 9, 67],
  [8, 33, 130],
  [9, 21, 3070],
  [7, 5, 4096],
];

describe('d-blocked products (tuning.blockSteps)', () => {
  for (const variant of VARIANTS) {
    for (const tile of variant === 'simd' ? TILES : (['3x3', '4x2'] as const)) {
      describe(`${variant}, tile ${tile}`, () => {
        let plain: WasmBackend;
        const blocked: WasmBackend[] = [];
        beforeAll(async () => {
          plain = await backend({ variant, threads: 1, tuning: { tile, blockSteps: 0 } });
          for (const blockSteps of [1, 5, 100]) {
            blocked.push(await backend({ variant, threads: 1, tuning: { tile, blockSteps } }));
          }
        });
        afterAll(() => {
          plain.dispose();
          for (const b of blocked) b.dispose();
        });

        it('gives the bits of the undivided product, within float64 tolerance', () => {
          for (const [m, n, d] of SHAPES) {
            const q = random(m, d, m * 31 + d);
            const x = random(n, d, n * 17 + d);
            const want = plain.kernels.cosineMatrix(q, x);
            expectClose(want, ref.cosineMatrix(q, x), tolFor(d));
            const dots = plain.kernels.matmul(q, x, false, true);
            for (const [t, b] of blocked.entries()) {
              const what = `${m} x ${n} x ${d}, backend ${t}`;
              const got = b.kernels.cosineMatrix(q, x);
              expectClose(got, ref.cosineMatrix(q, x), tolFor(d));
              expect(bits(got), what).toEqual(bits(want));
              expect(bits(b.kernels.matmul(q, x, false, true)), `${what}: matmul`).toEqual(bits(dots));
              // Each query row alone (a lone row) scores the bits it scores among the others.
              for (const i of [0, m - 1]) {
                const one = { data: q.data.slice(i * d, (i + 1) * d), rows: 1, cols: d };
                expect(bits(b.kernels.cosineMatrix(one, x)), `${what}: row ${i} alone`).toEqual(
                  bits(want.subarray(i * n, (i + 1) * n)),
                );
              }
            }
          }
        });

        it('searches a resident corpus as the undivided product does', () => {
          for (const [m, n, d] of SHAPES) {
            const q = random(m, d, m + 3 * d);
            const x = random(n, d, n + 5 * d);
            // Copies of row 0: ties, which go to the lower index.
            for (const j of [n >> 1, n - 1]) x.data.copyWithin(j * d, 0, d);
            const k = Math.min(n, 5);
            const c0 = plain.kernels.createCorpus(x);
            const want = plain.kernels.corpusSearch(c0, q, k);
            c0.dispose();
            for (const b of blocked) {
              const c = b.kernels.createCorpus(x);
              const got = b.kernels.corpusSearch(c, q, k);
              expect([...got.indices], `${m} x ${n} x ${d}`).toEqual([...want.indices]);
              expect(bits(got.scores), `${m} x ${n} x ${d}`).toEqual(bits(want.scores));
              c.dispose();
            }
          }
        });
      });
    }
  }

  it('gives the same bits on two threads, and with more query rows than its scratch holds', async () => {
    const one = await backend({ variant: 'simd', threads: 1, tuning: { blockSteps: 7 } });
    const two = await backend({ variant: 'simd', threads: 2, tuning: { blockSteps: 7, threadMinFlops: 0 } });
    const plain = await backend({ variant: 'simd', threads: 1, tuning: { blockSteps: 0 } });
    try {
      // 200 rows: over the 192 rows of the scratch (tile 4x2), so the undivided driver runs.
      for (const [m, n, d] of [
        [9, 301, 517],
        [3, 1000, 96],
        [200, 37, 45],
      ]) {
        const q = random(m, d, m + n + d);
        const x = random(n, d, n * 7 + d);
        const want = plain.kernels.cosineMatrix(q, x);
        expectClose(want, ref.cosineMatrix(q, x), tolFor(d));
        expect(bits(one.kernels.cosineMatrix(q, x)), `${m} x ${n} x ${d}, 1 thread`).toEqual(bits(want));
        expect(bits(two.kernels.cosineMatrix(q, x)), `${m} x ${n} x ${d}, 2 threads`).toEqual(bits(want));
      }
    } finally {
      one.dispose();
      two.dispose();
      plain.dispose();
    }
  });

  it('rejects a block size that is not a non-negative integer', async () => {
    for (const blockSteps of [-1, 1.5, Number.NaN, 'on' as never]) {
      await expect(backend({ variant: 'simd', tuning: { blockSteps } })).rejects.toThrow(
        /tuning\.blockSteps/,
      );
    }
  });
});
