import { Tensor } from '@cosinekit/core';
import type { Matrix } from '@cosinekit/core/backend';

/** A small seeded PRNG (mulberry32), so every failure reproduces. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A `rows x cols` tensor of uniform values in [-1, 1) (optionally shifted, so cosines are not all near 0). */
export function randomTensor(rows: number, cols: number, seed: number, shift = 0): Tensor {
  const r = rng(seed);
  const d = new Float32Array(rows * cols);
  for (let i = 0; i < d.length; i++) d[i] = r() * 2 - 1 + shift;
  return new Tensor(d, rows, cols);
}

/** A copy of `x` with row `i` set to zeros. */
export function withZeroRow(x: Matrix, i: number): Tensor {
  const d = Float32Array.from(x.data);
  d.fill(0, i * x.cols, (i + 1) * x.cols);
  return new Tensor(d, x.rows, x.cols);
}
