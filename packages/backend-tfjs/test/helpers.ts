import { type Kernels, type Matrix, referenceKernels } from '@cosinekit/core';
import type { TfjsEngine } from '../src/index.js';

/** Engines under test here: tfjs-wasm and tfjs-cpu in Node, tfjs-webgl in the browser project. */
export const ENGINES: readonly TfjsEngine[] = typeof window === 'undefined' ? ['wasm', 'cpu'] : ['webgl'];

/**
 * Largest absolute difference from the float64 reference allowed for cosines. float32 products of
 * unit vectors carry about sqrt(d) * 6e-8 of rounding (1e-6 at d=1536 with margin); webgl
 * (SwiftShader here) computes in float32 textures with its own tanh/exp, about 10x looser.
 */
export function cosineTolerance(engine: TfjsEngine): number {
  return engine === 'webgl' ? 1e-4 : 1e-5;
}

/** Relative tolerance for the dense algebra (matmul, bias, activations) in float32. */
export function algebraTolerance(engine: TfjsEngine): number {
  return engine === 'webgl' ? 1e-4 : 1e-5;
}

/**
 * Tolerances for the conformance suite (absolute on cosines, relative on algebra). wasm and cpu
 * compute in float32 and pass the suite's defaults (2e-5, 1e-5); webgl runs float32 textures on
 * SwiftShader with its own exp/tanh and needs 1e-4 on both.
 */
export const TOLERANCE: Record<TfjsEngine, { cosine?: number; algebra?: number }> = {
  wasm: {},
  cpu: {},
  webgl: { cosine: 1e-4, algebra: 1e-4 },
};

/** Deterministic values in [-1, 1). */
export function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export function matrix(rows: number, cols: number, seed: number, scale = 1): Matrix {
  const data = random(rows * cols, seed);
  if (scale !== 1) for (let i = 0; i < data.length; i++) data[i] *= scale;
  return { data, rows, cols };
}

export function of(rows: number[][]): Matrix {
  return { data: Float32Array.from(rows.flat()), rows: rows.length, cols: rows[0].length };
}

/** Max over i of |a_i - b_i| / max(1, |b_i|). */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expectSameLength(a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    if (!(e <= m)) m = e; // NaN propagates as a failure
  }
  return m;
}

export function maxAbsError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expectSameLength(a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= m)) m = e;
  }
  return m;
}

function expectSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`length ${a.length} !== ${b.length}`);
}

type Synced<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Awaited<R> : never;
};

/** The reference kernels, typed as the synchronous functions they are. */
export const ref = referenceKernels as unknown as Synced<Kernels>;
