import type { Matrix } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { backend, random, VARIANTS } from './helpers.js';

/**
 * `matmul` runs on the dot-product engine: operands staged as rows of the shared dimension
 * (transposed on the way in where needed), register tiles of 4x2 (plain SIMD) or 3x3 (relaxed)
 * rows, rows left over below a tile run alone, output chunks of 4M floats. These shapes sit on
 * and around those edges and the 4-float step of the shared dimension, in all four transpose
 * cases, up to the MLP's first layer (256 rows, k = 784).
 */
const SHAPES: [number, number, number][] = [
  // m, k, n
  [1, 1, 1],
  [1, 3, 1],
  [3, 1, 5],
  [4, 8, 8],
  [5, 7, 9],
  [7, 17, 15],
  [63, 255, 17],
  [64, 256, 16],
  [65, 257, 33],
  [130, 513, 7],
  [9, 1030, 3],
  [70, 784, 24],
  [256, 784, 64],
];

/** op(X) element (i, p) of a matrix stored as given. */
const at = (x: Matrix, t: boolean, i: number, p: number): number =>
  t ? x.data[p * x.cols + i] : x.data[i * x.cols + p];

/**
 * Checks every output against the float64 product with a bound a float32 sum of k products must
 * meet in any order: (k + 1) u sum |a||b| (u = 2^-24, the rounding of each product and partial
 * sum, plus the final store), so a wrong term anywhere shows up even where products cancel.
 */
function check(
  got: Float32Array,
  a: Matrix,
  b: Matrix,
  ta: boolean,
  tb: boolean,
  m: number,
  k: number,
  n: number,
) {
  expect(got.length).toBe(m * n);
  let worst = 0;
  let where = '';
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let mag = 0;
      for (let p = 0; p < k; p++) {
        const v = at(a, ta, i, p) * at(b, tb, p, j);
        s += v;
        mag += Math.abs(v);
      }
      const tol = (k + 1) * 2 ** -24 * mag + 1e-38;
      const ratio = Math.abs(got[i * n + j] - s) / tol;
      if (!(ratio <= worst)) {
        worst = ratio;
        where = `(${i}, ${j}): got ${got[i * n + j]}, want ${s}`;
      }
    }
  }
  expect(worst, `worst at ${where}`).toBeLessThanOrEqual(1);
}

for (const variant of VARIANTS) {
  describe(`matmul against float64 (${variant})`, () => {
    let b: WasmBackend;
    beforeAll(async () => {
      b = await backend({ variant, threads: 1 });
    });
    afterAll(() => b.dispose());

    for (const [m, k, n] of SHAPES) {
      it(`${m} x ${k} x ${n}, all four transpose cases, against float64`, () => {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            const a = ta ? random(k, m, m * 7 + k) : random(m, k, m * 7 + k);
            const bm = tb ? random(n, k, n * 5 + k) : random(k, n, n * 5 + k);
            check(b.kernels.matmul(a, bm, ta, tb), a, bm, ta, tb, m, k, n);
            // Into a given array holding garbage: every output is written, none added to.
            const out = new Float32Array(m * n).fill(Number.NaN);
            const got = b.kernels.matmul(a, bm, ta, tb, out);
            expect(got).toBe(out);
            check(out, a, bm, ta, tb, m, k, n);
          }
        }
        expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
      });
    }

    it('an output larger than one staged chunk (4M floats) comes back whole', () => {
      const [m, k, n] = [4100, 3, 1025];
      const a = random(m, k, 11);
      const bm = random(n, k, 12);
      check(b.kernels.matmul(a, bm, false, true), a, bm, false, true, m, k, n);
      expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });

    it('huge and tiny values neither overflow nor flush early', () => {
      const a: Matrix = { data: new Float32Array([0, 0, 1e-30, 1e18, -1e18, 3]), rows: 2, cols: 3 };
      const bm: Matrix = { data: new Float32Array([1e18, 0, 2, 1e-30, 5, 7]), rows: 3, cols: 2 };
      const got = b.kernels.matmul(a, bm, false, false);
      check(got, a, bm, false, false, 2, 3, 2);
    });
  });
}
