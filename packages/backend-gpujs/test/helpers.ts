import type { Matrix } from '@cosinekit/core/backend';
import { expect } from 'vitest';

/** Seeded uniform numbers in [-1, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/** A seeded random `rows x cols` matrix; `zeroRows` are set to zero. */
export function matrix(rows: number, cols: number, seed: number, zeroRows: number[] = []): Matrix {
  const next = rng(seed);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = next();
  for (const r of zeroRows) data.fill(0, r * cols, (r + 1) * cols);
  return { data, rows, cols };
}

/** Asserts `got[i]` is within `tol(i)` of `want[i]` everywhere, naming the first miss. */
export function expectClose(
  what: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: (i: number) => number,
): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol(i))) {
      expect.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]} (error ${err.toExponential(2)})`);
    }
  }
}

/** Absolute tolerance on cosines and normalised components (the conformance default). */
export const COS_TOL = 2e-5;
/** Relative tolerance on norms, products and activations (the conformance default). */
export const ALG_TOL = 1e-5;
