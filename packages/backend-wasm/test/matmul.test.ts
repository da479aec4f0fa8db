import type { Matrix } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWasmBackend, type WasmBackend } from '../src/index.js';
import { compileVariant } from '../src/loader.js';
import { WasmRuntime } from '../src/runtime.js';
import { DEFAULT_TUNING } from '../src/tuning.js';
import { opAt as at, backend, random, VARIANTS } from './helpers.js';

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

/** The float64 product op(A) op(B) and, per output, the sum of its terms' magnitudes. */
interface Product64 {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly s: Float64Array;
  readonly mag: Float64Array;
}

function product64(
  a: Matrix,
  b: Matrix,
  ta: boolean,
  tb: boolean,
  m: number,
  k: number,
  n: number,
): Product64 {
  const s = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      let abs = 0;
      for (let p = 0; p < k; p++) {
        const v = at(a, ta, i, p) * at(b, tb, p, j);
        sum += v;
        abs += Math.abs(v);
      }
      s[i * n + j] = sum;
      mag[i * n + j] = abs;
    }
  }
  return { m, k, n, s, mag };
}

/**
 * Checks every output against the float64 product with a bound a float32 sum of k products must
 * meet in any order: (k + 1) u sum |a||b| (u = 2^-24, the rounding of each product and partial
 * sum, plus the final store), so a wrong term anywhere shows up even where products cancel.
 * `want`: the product ({@link product64}), made once for all the answers to check against it.
 */
function checkAgainst(got: Float32Array, want: Product64) {
  const { m, k, n, s, mag } = want;
  expect(got.length).toBe(m * n);
  let worst = 0;
  let where = '';
  for (let i = 0; i < m * n; i++) {
    const tol = (k + 1) * 2 ** -24 * mag[i] + 1e-38;
    const ratio = Math.abs(got[i] - s[i]) / tol;
    if (!(ratio <= worst)) {
      worst = ratio;
      where = `(${Math.floor(i / n)}, ${i % n}): got ${got[i]}, want ${s[i]}`;
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
            const want = product64(a, bm, ta, tb, m, k, n);
            checkAgainst(b.kernels.matmul(a, bm, ta, tb), want);
            // Into a given array holding garbage: every output is written, none added to.
            const out = new Float32Array(m * n).fill(Number.NaN);
            const got = b.kernels.matmul(a, bm, ta, tb, out);
            expect(got).toBe(out);
            checkAgainst(out, want);
          }
        }
        expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
      });
    }

    it('an output larger than one staged chunk (4M floats) comes back whole', () => {
      const [m, k, n] = [4100, 3, 1025];
      const a = random(m, k, 11);
      const bm = random(n, k, 12);
      checkAgainst(b.kernels.matmul(a, bm, false, true), product64(a, bm, false, true, m, k, n));
      expect(b.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });

    it('huge and tiny values neither overflow nor flush early', () => {
      const a: Matrix = { data: new Float32Array([0, 0, 1e-30, 1e18, -1e18, 3]), rows: 2, cols: 3 };
      const bm: Matrix = { data: new Float32Array([1e18, 0, 2, 1e-30, 5, 7]), rows: 3, cols: 2 };
      const got = b.kernels.matmul(a, bm, false, false);
      checkAgainst(got, product64(a, bm, false, false, 2, 3, 2));
    });
  });
}

/**
 * `rows x cols` values with about `density` of them non-zero (the rest +0, some -0), whole rows
 * `zeroRow` and columns `zeroCol` of zeros: the kind of A the sparse path takes.
 */
function sparse(rows: number, cols: number, density: number, seed: number): Matrix {
  const x = random(rows, cols, seed);
  const pick = random(rows, cols, seed + 1).data;
  for (let i = 0; i < x.data.length; i++) {
    const r = Math.floor(i / cols);
    const c = i % cols;
    if ((pick[i] + 1) / 2 >= density || r === 1 || c === 2) x.data[i] = i % 3 === 0 ? -0 : 0;
  }
  return x;
}

/** Shapes past the sparse path's minimum work (64K multiply-adds), n on both sides of 4's. */
const SPARSE_SHAPES: [number, number, number][] = [
  [1, 300, 300],
  [300, 300, 1],
  [37, 203, 37],
  [129, 257, 5],
  [70, 784, 7],
  [256, 784, 64],
  // Around the sparse kernel's column steps (64, 16, 4, 1) and groups of non-zeros (8, 4, 1).
  [41, 13, 127],
  [82, 10, 80],
  [1, 1100, 65],
  [2, 9, 4096],
];

for (const variant of VARIANTS) {
  describe(`matmul's sparse path (${variant})`, () => {
    // Default tuning; the sparse path for any density (1); never (0).
    let auto: WasmBackend;
    let always: WasmBackend;
    let never: WasmBackend;
    beforeAll(async () => {
      auto = await backend({ variant, threads: 1 });
      always = await backend({ variant, threads: 1, tuning: { sparseDensity: 1 } });
      never = await backend({ variant, threads: 1, tuning: { sparseDensity: 0 } });
    });
    afterAll(() => {
      for (const x of [auto, always, never]) x.dispose();
    });

    for (const [m, k, n] of SPARSE_SHAPES) {
      it(`${m} x ${k} x ${n}, A sparse or dense, A transposed or not, against float64`, () => {
        for (const ta of [false, true]) {
          // Density 0 (A all zero) on the smaller shapes: the float64 product of the largest is slow.
          for (const density of m * k * n > 4e6 ? [0.1, 1] : [0, 0.1, 1]) {
            const a = ta ? sparse(k, m, density, m + k) : sparse(m, k, density, m + k);
            const bm = random(k, n, n + k);
            const want = product64(a, bm, ta, false, m, k, n);
            for (const kit of [auto, always]) {
              checkAgainst(kit.kernels.matmul(a, bm, ta, false), want);
              const out = new Float32Array(m * n).fill(Number.NaN);
              expect(kit.kernels.matmul(a, bm, ta, false, out)).toBe(out);
              checkAgainst(out, want);
            }
          }
        }
        for (const x of [auto, always]) expect(x.memory()).toEqual({ residentHandles: 0, bytes: 0 });
      });
    }

    it('above the density threshold the dense engine runs: the same bits as with the path off', () => {
      for (const ta of [false, true]) {
        const a = ta ? sparse(784, 256, 0.6, 5) : sparse(256, 784, 0.6, 5);
        const bm = random(784, 64, 6);
        const want = never.kernels.matmul(a, bm, ta, false);
        expect(Array.from(auto.kernels.matmul(a, bm, ta, false))).toEqual(Array.from(want));
      }
    });

    it('a row of op(A) without non-zeros (only +0 and -0) gives +0, whatever the signs in B', () => {
      const a = sparse(40, 300, 0.05, 9);
      const bm = random(300, 9, 10);
      for (let i = 0; i < bm.data.length; i++) bm.data[i] = -1 - Math.abs(bm.data[i]);
      const got = always.kernels.matmul(a, bm, false, false);
      // Row 1 of A is all zeros (some of them -0).
      for (let j = 0; j < 9; j++) expect(Object.is(got[9 + j], 0), `column ${j}`).toBe(true);
      checkAgainst(got, product64(a, bm, false, false, 40, 300, 9));
    });

    // matmul is self-checked (Backend.selfChecked): a product with a non-finite value fails the
    // call, naming the first one, on either path, instead of answering it.
    it('a non-finite B takes the dense engine, so Inf and NaN fail the call as they would there', () => {
      const a = sparse(64, 300, 0.1, 13);
      for (const bad of [Number.POSITIVE_INFINITY, Number.NaN]) {
        const bm = random(300, 8, 14);
        // Row 2 of B meets only zeros of A (column 2 of A is all zero): 0 x Inf is NaN in the sum.
        bm.data[2 * 8 + 3] = bad;
        expect(() => never.kernels.matmul(a, bm, false, false)).toThrow(
          /matmul returned NaN among its values/,
        );
        expect(() => always.kernels.matmul(a, bm, false, false)).toThrow(
          /matmul returned NaN among its values/,
        );
      }
      expect(always.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });

    it('a NaN or Inf in A is a non-zero and reaches its row of C: the call fails', () => {
      const a = sparse(64, 300, 0.1, 15);
      const bm = random(300, 8, 16);
      a.data[6 * 300 + 9] = Number.POSITIVE_INFINITY;
      expect(() => always.kernels.matmul(a, bm, false, false)).toThrow(
        /matmul returned -?Infinity among its values \(position 4[89]/,
      );
      a.data[5 * 300 + 7] = Number.NaN;
      expect(() => always.kernels.matmul(a, bm, false, false)).toThrow(
        /matmul returned NaN among its values \(position 40\)/,
      );
      expect(always.memory()).toEqual({ residentHandles: 0, bytes: 0 });
    });
  });
}

describe('tuning.sparseDensity', () => {
  it('must be a number in [0, 1]', async () => {
    for (const sparseDensity of [-0.1, 1.5, Number.NaN, Symbol('s') as never, Object.create(null)]) {
      await expect(backend({ variant: 'simd', tuning: { sparseDensity } })).rejects.toThrow(
        /tuning\.sparseDensity/,
      );
    }
  });

  it('a tuning key the engine does not have is refused by name (a misspelt one was ignored)', () => {
    expect(() => createWasmBackend({ tuning: { tille: '2x2' } as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', arg: 'options.tuning.tille' }),
    );
  });
});

describe("matmul's finiteness scan (allFinite in wasm, 16, then 4, then 1 float a step)", () => {
  it('finds one NaN, Inf or -Inf anywhere in blocks of every length around its steps', async () => {
    const module = await compileVariant('simd', undefined);
    const rt = new WasmRuntime(await WebAssembly.instantiate(module, {}), 'simd', DEFAULT_TUNING.simd);
    const lengths = [...Array.from({ length: 41 }, (_, n) => n), 63, 64, 65, 784 * 256 + 3];
    const at = rt.alloc(lengths[lengths.length - 1] * 4, 'test');
    for (const n of lengths) {
      const f = rt.f32;
      for (let i = 0; i < n; i++) f[(at >>> 2) + i] = i % 7 === 3 ? -0 : ((i % 1000) - 500) * 6e35;
      expect(rt.exports.allFinite(at, n), `length ${n}, all finite`).toBe(1);
      // Every position of a short block; in a long one, around the steps and the tail.
      const where = n <= 65 ? Array.from({ length: n }, (_, i) => i) : [0, 15, 16, 17, n - 20, n - 4, n - 1];
      for (const i of where) {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          const keep = f[(at >>> 2) + i];
          f[(at >>> 2) + i] = bad;
          expect(rt.exports.allFinite(at, n), `length ${n}, ${bad} at ${i}`).toBe(0);
          f[(at >>> 2) + i] = keep;
        }
      }
    }
    rt.free(at);
  });
});
