import type { Matrix } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { opAt as at, backend, random, VARIANTS } from './helpers.js';

/**
 * The bits of `matmul`'s sparse path (assembly/sparse.ts): each output is the float32 sum of its
 * non-zero terms x * B[p][j], in the order of p, starting from +0, each product rounded, then
 * each sum (plain SIMD, where `madd` is a multiply then an add). The nn package's products promise
 * the same numbers for the same seed, so these are checked bit for bit against a replica in JS, on
 * shapes around the kernel's steps (64, 16, 4 and 1 columns; 8, 4 and 1 non-zeros per pass: rows
 * of 0 to 12 non-zeros, and every remainder of 8 among longer ones) and edges (one row, one
 * column, one shared index, rows and columns of op(A) without non-zeros, -0 entries, op(A) with no
 * zero but row 1 and column 2).
 */

/** The sparse path's sum order, in float32: Math.fround after every product and every sum. */
function replica(a: Matrix, b: Matrix, ta: boolean, m: number, k: number, n: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const x = at(a, ta, i, p);
        if (x !== 0) s = Math.fround(s + Math.fround(x * b.data[p * n + j]));
      }
      c[i * n + j] = s;
    }
  }
  return c;
}

/** Index and both values of the first float that differs in bits, or undefined. */
function firstDifference(got: Float32Array, want: Float32Array): string | undefined {
  expect(got.length).toBe(want.length);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) return `at ${i}: got ${got[i]}, want ${want[i]}`;
  return undefined;
}

/**
 * `rows x cols` with about `density` of it non-zero (the rest +0 and -0), row 1 and column 2
 * all zero where they exist.
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

/** The transpose of `a`, as a matrix of its own. */
function transpose(a: Matrix): Matrix {
  const t = new Float32Array(a.data.length);
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < a.cols; j++) t[j * a.rows + i] = a.data[i * a.cols + j];
  return { data: t, rows: a.cols, cols: a.rows };
}

/** m, k, n: all past the sparse path's minimum work (64K multiply-adds). */
const SHAPES: [number, number, number][] = [
  [1, 300, 300],
  [300, 300, 1],
  [513, 1, 200],
  [37, 203, 37],
  [129, 257, 5],
  [70, 784, 17],
  [64, 100, 33],
  [20, 130, 255],
  [3, 5000, 7],
  [256, 784, 64],
  // 64 + 3 x 16 + 3 x 4 + 3 columns; k = 13: at density 1, 12 non-zeros a row (8 + 4).
  [41, 13, 127],
  // 64 + 16 columns; k = 10: 9 non-zeros a row at density 1 (8 + 1).
  [82, 10, 80],
  // 65 columns, one row of A.
  [1, 1100, 65],
  // 4096 columns, 8 non-zeros a row at density 1.
  [2, 9, 4096],
];

for (const variant of VARIANTS) {
  describe(`matmul's sparse path, bit for bit (${variant})`, () => {
    let one: WasmBackend;
    let two: WasmBackend;
    beforeAll(async () => {
      one = await backend({ variant, threads: 1, tuning: { sparseDensity: 1 } });
      two = await backend({ variant, threads: 2, tuning: { sparseDensity: 1, threadMinFlops: 0 } });
    });
    afterAll(() => {
      one.dispose();
      two.dispose();
    });

    for (const [m, k, n] of SHAPES) {
      it(`${m} x ${k} x ${n}: ${variant === 'simd' ? 'the replica' : 'Aᵀ given as is'}, 1 and 2 threads, A transposed or not`, () => {
        for (const density of [0.03, 0.2, 1]) {
          const b = random(k, n, m + n);
          const plain = sparse(m, k, density, m + k + n);
          const stored = transpose(plain);
          const want =
            variant === 'simd'
              ? replica(plain, b, false, m, k, n)
              : one.kernels.matmul(plain, b, false, false);
          for (const kit of [one, two]) {
            expect(firstDifference(kit.kernels.matmul(plain, b, false, false), want)).toBeUndefined();
            // Aᵀ compressed from A itself: the same entries in the same order, so the same bits.
            expect(firstDifference(kit.kernels.matmul(stored, b, true, false), want)).toBeUndefined();
            const out = new Float32Array(m * n).fill(Number.NaN);
            kit.kernels.matmul(stored, b, true, false, out);
            expect(firstDifference(out, want)).toBeUndefined();
          }
        }
        for (const kit of [one, two]) expect(kit.memory()).toEqual({ residentHandles: 0, bytes: 0 });
      });
    }

    it('an all-zero A (+0 and -0) gives +0 everywhere, whatever the signs in B', () => {
      const a = sparse(40, 300, 0, 21);
      const b = random(300, 19, 22);
      for (let i = 0; i < b.data.length; i++) b.data[i] = -1 - Math.abs(b.data[i]);
      for (const kit of [one, two]) {
        for (const [x, ta] of [
          [a, false],
          [transpose(a), true],
        ] as const) {
          const got = kit.kernels.matmul(x, b, ta, false);
          expect(got.every((v) => Object.is(v, 0))).toBe(true);
        }
      }
    });

    it('one or two non-zeros anywhere in rows of zeros: runs of sixteen zeros passed over at every offset', () => {
      // Row r of op(A) (k values, +0 and -0 in turn) holds a non-zero at r mod k and, in every
      // other row, a second one 17 places on: each length and alignment of the zero runs
      // around compressRows' sixteen-value step, and rows whose only non-zero is in the tail.
      for (const k of [15, 16, 17, 31, 32, 33, 47, 48, 49, 64, 100]) {
        const m = 2 * k + 3;
        const a = new Float32Array(m * k);
        for (let i = 0; i < a.length; i++) a[i] = i % 2 ? -0 : 0;
        for (let r = 0; r < m; r++) {
          a[r * k + (r % k)] = 1 + r / 8;
          if (r % 2 === 1) a[r * k + ((r + 17) % k)] = -2 - r / 16;
        }
        const plain = { data: a, rows: m, cols: k };
        const b = random(k, 70, k + 5);
        // The relaxed build fuses each multiply-add: its own one-thread answer, checked against
        // float64 here, stands in for the replica.
        const want =
          variant === 'simd'
            ? replica(plain, b, false, m, k, 70)
            : one.kernels.matmul(plain, b, false, false);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < 70; j++) {
            let s = 0;
            for (let p = 0; p < k; p++) s += a[i * k + p] * b.data[p * 70 + j];
            expect(Math.abs(want[i * 70 + j] - s)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(s)));
          }
        }
        for (const kit of [one, two]) {
          expect(firstDifference(kit.kernels.matmul(plain, b, false, false), want)).toBeUndefined();
          expect(firstDifference(kit.kernels.matmul(transpose(plain), b, true, false), want)).toBeUndefined();
        }
      }
    });

    it('-0 in A is a zero: skipped, so -0 x B never turns a +0 sum into -0', () => {
      // Each row of op(A) has one +1 and otherwise -0; B negative: the sums are exactly B's row.
      const k = 300;
      const a = new Float32Array(30 * k).fill(-0);
      for (let i = 0; i < 30; i++) a[i * k + ((i * 7) % k)] = 1;
      const b = random(k, 23, 24);
      const want = new Float32Array(30 * 23);
      for (let i = 0; i < 30; i++)
        for (let j = 0; j < 23; j++) want[i * 23 + j] = b.data[((i * 7) % k) * 23 + j];
      const plain = { data: a, rows: 30, cols: k };
      for (const kit of [one, two]) {
        expect(firstDifference(kit.kernels.matmul(plain, b, false, false), want)).toBeUndefined();
        expect(firstDifference(kit.kernels.matmul(transpose(plain), b, true, false), want)).toBeUndefined();
      }
    });
  });
}

describe("matmul's sparse path: where it gives up", () => {
  let auto: WasmBackend;
  let never: WasmBackend;
  beforeAll(async () => {
    auto = await backend({ variant: 'simd', threads: 1 });
    never = await backend({ variant: 'simd', threads: 1, tuning: { sparseDensity: 0 } });
  });
  afterAll(() => {
    auto.dispose();
    never.dispose();
  });

  it('A over the density threshold only in its last rows: the dense engine, the same bits as with the path off', () => {
    // Rows of zeros, then dense rows (55%): the count passes the threshold (50%) near the end.
    const rows = 256;
    const k = 300;
    const a = random(rows, k, 31);
    a.data.fill(0, 0, 115 * k);
    const b = random(k, 40, 32);
    for (const [x, ta] of [
      [a, false],
      [transpose(a), true],
    ] as const) {
      const want = never.kernels.matmul(x, b, ta, false);
      expect(firstDifference(auto.kernels.matmul(x, b, ta, false), want)).toBeUndefined();
    }
    expect(auto.memory()).toEqual({ residentHandles: 0, bytes: 0 });
  });

  it('A of at most four rows of at most 2048 takes the sparse path whatever it holds (B read as it lies): the replica, bit for bit', () => {
    for (const [m, k, n] of [
      [1, 784, 256],
      [2, 7, 3],
      [3, 129, 65],
      [4, 1, 1],
      [4, 2048, 9],
      // Longer rows, or a fifth row: the dense engine (its four lanes round less).
      [2, 2049, 7],
      [5, 300, 40],
    ]) {
      const a = random(m, k, m + k);
      const b = random(k, n, k + n);
      const what = `${m} x ${k} x ${n}`;
      for (const [x, ta] of [
        [a, false],
        [transpose(a), true],
      ] as const) {
        const got = auto.kernels.matmul(x, b, ta, false);
        const few = m <= 4 && k <= 2048;
        if (few) expect(firstDifference(got, replica(x, b, ta, m, k, n)), what).toBeUndefined();
        // Within float32 of the dense engine, which sparseDensity 0 keeps.
        const dense = never.kernels.matmul(x, b, ta, false);
        for (let i = 0; i < got.length; i++)
          expect(Math.abs(got[i] - dense[i]), what).toBeLessThanOrEqual(1e-5 * Math.sqrt(k));
        if (!few) expect(firstDifference(got, dense), what).toBeUndefined();
      }
    }
    expect(auto.memory()).toEqual({ residentHandles: 0, bytes: 0 });
  });

  it('rows of more than 4096 values stay dense however sparse (one chain a row would round too far)', () => {
    const a = random(16, 4097, 41);
    for (let i = 0; i < a.data.length; i++) if (i % 10 !== 0) a.data[i] = 0;
    const b = random(4097, 20, 42);
    expect(
      firstDifference(auto.kernels.matmul(a, b, false, false), never.kernels.matmul(a, b, false, false)),
    ).toBeUndefined();
    const c = random(16, 4096, 43);
    for (let i = 0; i < c.data.length; i++) if (i % 10 !== 0) c.data[i] = 0;
    const d = random(4096, 20, 44);
    expect(
      firstDifference(auto.kernels.matmul(c, d, false, false), replica(c, d, false, 16, 4096, 20)),
    ).toBeUndefined();
  });

  it('A just under the threshold takes the sparse path: the replica, bit for bit', () => {
    const rows = 256;
    const k = 300;
    const a = random(rows, k, 33);
    // 100 dense rows of 256: 39% non-zero, under the default 50%; the 256 samples see about as many.
    a.data.fill(0, 100 * k);
    const b = random(k, 40, 34);
    expect(
      firstDifference(auto.kernels.matmul(a, b, false, false), replica(a, b, false, rows, k, 40)),
    ).toBeUndefined();
    const t = transpose(a);
    expect(
      firstDifference(auto.kernels.matmul(t, b, true, false), replica(t, b, true, rows, k, 40)),
    ).toBeUndefined();
  });
});
