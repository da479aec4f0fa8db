import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TUNING, TILES, type WasmBackend } from '../src/index.js';
import { backend, bits, expectClose, random, ref, tolFor, VARIANTS } from './helpers.js';

/**
 * Products whose drivers touch each corpus block first (`tuning.touchBytes`: 0 touches whatever the
 * corpus's size) wherever the query rows and row length allow it: d = 2561 (641 steps, off the
 * 4-float step: a query panel of at least 20 KiB for every tile, R = 2 to 4) and 4099 (over one
 * span of 4096 floats: a touched span of 1024 steps, then one of a single step, not touched).
 * Query rows: one panel exactly, a panel and one left over, 13 (panels and 1-3 left over), 64
 * (the most touched) and 65 (not); corpus rows: one, fewer than one block, an odd number of panels.
 */
const SHAPES: [number, number, number][] = [
  [4, 1, 2561],
  [5, 7, 2561],
  [13, 33, 2561],
  [64, 45, 2561],
  [65, 9, 2561],
  [9, 21, 4099],
];

describe('products that touch the corpus first (tuning.touchBytes)', () => {
  for (const variant of VARIANTS) {
    for (const tile of variant === 'simd' ? TILES : (['3x3', '4x2'] as const)) {
      describe(`${variant}, tile ${tile}`, () => {
        let plain: WasmBackend;
        let touched: WasmBackend;
        let two: WasmBackend;
        beforeAll(async () => {
          plain = await backend({ variant, threads: 1, tuning: { tile, touchBytes: Infinity } });
          touched = await backend({ variant, threads: 1, tuning: { tile, touchBytes: 0 } });
          two = await backend({ variant, threads: 2, tuning: { tile, touchBytes: 0, threadMinFlops: 0 } });
        });
        afterAll(() => {
          plain.dispose();
          touched.dispose();
          two.dispose();
        });

        it('gives the bits of the untouched product, within float64 tolerance', () => {
          for (const [m, n, d] of SHAPES) {
            const q = random(m, d, m * 13 + d);
            const x = random(n, d, n * 29 + d);
            const want = plain.kernels.cosineMatrix(q, x);
            expectClose(want, ref.cosineMatrix(q, x), tolFor(d));
            const dots = plain.kernels.matmul(q, x, false, true);
            for (const [name, b] of [
              ['1 thread', touched],
              ['2 threads', two],
            ] as const) {
              const what = `${m} x ${n} x ${d}, ${name}`;
              const got = b.kernels.cosineMatrix(q, x);
              expectClose(got, ref.cosineMatrix(q, x), tolFor(d));
              expect(bits(got), what).toEqual(bits(want));
              expect(bits(b.kernels.matmul(q, x, false, true)), `${what}: matmul`).toEqual(bits(dots));
            }
          }
        });

        it('searches a resident corpus as the untouched product does', () => {
          for (const [m, n, d] of SHAPES) {
            const q = random(m, d, m + 7 * d);
            const x = random(n, d, n + 11 * d);
            // Copies of row 0: ties, which go to the lower index.
            for (const j of [n >> 1, n - 1]) x.data.copyWithin(j * d, 0, d);
            const k = Math.min(n, 5);
            const c0 = plain.kernels.createCorpus(x);
            const want = plain.kernels.corpusSearch(c0, q, k);
            c0.dispose();
            for (const b of [touched, two]) {
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

  it('touches by default only a corpus of 8 MiB or more', () => {
    expect(DEFAULT_TUNING.simd.touchBytes).toBe(8 * 1024 * 1024);
    expect(DEFAULT_TUNING.relaxed.touchBytes).toBe(8 * 1024 * 1024);
  });

  it('rejects a size that is not a non-negative number', async () => {
    for (const touchBytes of [-1, Number.NaN, '8' as never, null as never]) {
      await expect(backend({ variant: 'simd', tuning: { touchBytes } })).rejects.toThrow(
        /tuning\.touchBytes/,
      );
    }
  });
});
