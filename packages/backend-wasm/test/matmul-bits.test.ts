import type { Matrix } from '@cosinekit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../src/index.js';
import { opAt as at, backend, random } from './helpers.js';

/**
 * The dense `matmul` promises the same bits for the same inputs (the nn package's "same seed,
 * same numbers"), whatever changes in how operands are staged: each output is one fixed chain,
 * four float32 partial sums (lane l takes the products at positions k = 4q + l, in order of q, the
 * shared dimension padded with zeros to a multiple of 4), then (l0 + l1) + (l2 + l3). This
 * replays that chain in JS with float32 rounding (Math.fround; the plain SIMD build multiplies
 * and adds separately, each rounded) and asks for every output bit for bit, on shapes around the
 * tile and step edges, in all four transpose cases, at one and two threads.
 */
const SHAPES: [number, number, number][] = [
  // m, k, n
  [1, 1, 1],
  [1, 5, 3],
  [2, 1, 7],
  [3, 6, 1],
  [5, 7, 9],
  [6, 9, 11],
  [7, 13, 2],
  [9, 64, 10],
  [17, 30, 33],
  [64, 64, 256],
  [129, 66, 65],
  [256, 64, 64],
];

/** The engine's chain for every output, in float32. */
function replay(
  a: Matrix,
  b: Matrix,
  ta: boolean,
  tb: boolean,
  m: number,
  k: number,
  n: number,
): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(m * n);
  const kp = Math.ceil(k / 4) * 4;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const s = [0, 0, 0, 0];
      for (let p = 0; p < kp; p++) {
        const prod = p < k ? f(at(a, ta, i, p) * at(b, tb, p, j)) : 0;
        s[p & 3] = f(s[p & 3] + prod);
      }
      out[i * n + j] = f(f(s[0] + s[1]) + f(s[2] + s[3]));
    }
  }
  return out;
}

/** Operands with zeros (relu-like, as hidden activations are) and negative zeros among them. */
function operand(rows: number, cols: number, seed: number): Matrix {
  const x = random(rows, cols, seed);
  for (let i = 0; i < x.data.length; i++) {
    if (x.data[i] < -0.4) x.data[i] = 0;
    else if (x.data[i] < -0.35) x.data[i] = -0;
  }
  return x;
}

function firstDifference(got: Float32Array, want: Float32Array): string {
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) return `at ${i}: got ${got[i]}, want ${want[i]}`;
  }
  return '';
}

describe('dense matmul: the same bits as the engine chain (simd)', () => {
  let one: WasmBackend;
  let two: WasmBackend;
  beforeAll(async () => {
    // sparseDensity 0: every product on the dense path. threadMinFlops 0: shared even when small.
    one = await backend({ variant: 'simd', threads: 1, tuning: { sparseDensity: 0 } });
    two = await backend({ variant: 'simd', threads: 2, tuning: { sparseDensity: 0, threadMinFlops: 0 } });
  });
  afterAll(() => {
    one.dispose();
    two.dispose();
  });

  for (const [m, k, n] of SHAPES) {
    it(`${m} x ${k} x ${n}, all four transpose cases, one and two threads`, () => {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const a = operand(ta ? k : m, ta ? m : k, m * 31 + k);
          const b = operand(tb ? n : k, tb ? k : n, n * 17 + k + 1);
          const want = replay(a, b, ta, tb, m, k, n);
          for (const be of [one, two]) {
            const got = be.kernels.matmul(a, b, ta, tb);
            expect(firstDifference(got, want), `transA ${ta}, transB ${tb}`).toBe('');
          }
          expect(one.memory().bytes).toBe(0);
        }
      }
    });
  }
});

describe('matmul is self-checked: a non-finite value in the product fails the call', () => {
  it('on the dense path (checked in wasm block by block) and the sparse path, small and large', async () => {
    const dense = await backend({ threads: 1, tuning: { sparseDensity: 0 } });
    const sparse = await backend({ threads: 1, tuning: { sparseDensity: 1 } });
    try {
      // 8 x 40 = 320 outputs and 64 x 40 = 2560, on either path (both checked in wasm).
      for (const m of [8, 64]) {
        const a = random(m, 300, 5);
        for (let i = 0; i < a.data.length; i++) if (i % 7 !== 0) a.data[i] = 0;
        const b = random(300, 40, 6);
        for (const be of [dense, sparse]) {
          expect(be.kernels.matmul(a, b, false, false).every(Number.isFinite)).toBe(true);
          const nan = { ...a, data: Float32Array.from(a.data) };
          nan.data[(m - 1) * 300 + 7] = Number.NaN;
          expect(() => be.kernels.matmul(nan, b, false, false)).toThrow(
            new RegExp(`matmul returned NaN among its values \\(position ${(m - 1) * 40}`),
          );
          // 3e38 x 10 overflows float32 in the one output it reaches.
          const big = { ...a, data: Float32Array.from(a.data) };
          big.data[0] = 3e38;
          const ten = { ...b, data: Float32Array.from(b.data) };
          ten.data[5] = 10;
          expect(() => be.kernels.matmul(big, ten, false, false)).toThrow(/matmul returned -?Infinity among/);
          expect(be.memory()).toEqual({ residentHandles: 0, bytes: 0 });
        }
      }
    } finally {
      dense.dispose();
      sparse.dispose();
    }
  });
});
