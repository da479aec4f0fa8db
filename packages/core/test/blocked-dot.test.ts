import { describe, expect, it } from 'vitest';
import { dotTiles, MAX_STAGE, stageRows } from '../src/kernels/blocked-dot.js';

/** Deterministic values in [-1, 1). */
function values(len: number, seed: number): Float64Array {
  const out = new Float64Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

describe('dotTiles (the reference blocked product)', () => {
  // Every tile edge: rows of A not a multiple of 2, rows of B not a multiple of 4, d = 1 and odd.
  for (const d of [1, 3, 17, 64]) {
    it(`matches a float64 dot product for every m <= 5, n <= 9 at d = ${d}, with offsets`, () => {
      for (let m = 1; m <= 5; m++) {
        for (let n = 1; n <= 9; n++) {
          const ao = 7;
          const bo = ao + m * d + 3;
          const s = values(bo + n * d + 5, m * 31 + n * 7 + d);
          const ldo = n + 2;
          const out = new Float64Array(1 + m * ldo).fill(Number.NaN);
          dotTiles(s, ao, m, bo, n, d, out, 1, ldo);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let want = 0;
              for (let p = 0; p < d; p++) want += s[ao + i * d + p] * s[bo + j * d + p];
              // Same order of summation, so equal to the last bit.
              expect(out[1 + i * ldo + j]).toBe(want);
            }
            // Columns past n are never written.
            expect(Number.isNaN(out[1 + i * ldo + n])).toBe(true);
          }
          expect(Number.isNaN(out[0])).toBe(true);
        }
      }
    });
  }

  it('refuses a staging array its int32 index arithmetic cannot address', () => {
    expect(MAX_STAGE).toBe(2 ** 31 - 1);
    const huge = { length: MAX_STAGE + 1 } as unknown as Float64Array;
    expect(() => dotTiles(huge, 0, 1, 0, 1, 1, new Float64Array(1), 0, 1)).toThrow(/2\^31 - 1/);
  });
});

describe('stageRows', () => {
  it('copies rows to float64, normalised on request, zero rows left zero', () => {
    const data = new Float32Array([3, 4, 0, 0, 1, 0]);
    const s = new Float64Array(8).fill(9);
    stageRows(data, 1, 3, 2, s, 1, true);
    expect(Array.from(s)).toEqual([9, 0, 0, 1, 0, 9, 9, 9]);
    stageRows(data, 0, 1, 2, s, 0, false);
    expect(Array.from(s.subarray(0, 2))).toEqual([3, 4]);
    stageRows(data, 0, 1, 2, s, 0, true);
    expect(s[0]).toBeCloseTo(0.6, 15);
    expect(s[1]).toBeCloseTo(0.8, 15);
  });
});
