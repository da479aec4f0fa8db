import { type Kernels, type Matrix, referenceKernels } from '@cosinekit/core/backend';
import type { TfjsEngine } from '../src/index.js';

/**
 * Engines under test here: tfjs-wasm and tfjs-cpu in Node, tfjs-webgl and tfjs-webgpu (SwiftShader
 * through --enable-unsafe-webgpu) in the browser project.
 */
export const ENGINES: readonly TfjsEngine[] =
  typeof window === 'undefined' ? ['wasm', 'cpu'] : ['webgl', 'webgpu'];

/**
 * Largest absolute difference from the float64 reference allowed for cosines: float32 products of
 * unit vectors carry about sqrt(d) * 6e-8 of rounding (2e-6 at d=1536). webgl here is SwiftShader
 * with float32 textures (WEBGL_RENDER_FLOAT32_ENABLED): measured within 2e-7 on cosines.
 */
export function cosineTolerance(_engine: TfjsEngine): number {
  return 1e-5;
}

/**
 * Relative tolerance for the dense algebra in float32 (matmul scales it by sqrt(k)). Worst measured:
 * the GELU gradient on webgl, 5e-6.
 */
export function algebraTolerance(_engine: TfjsEngine): number {
  return 1e-5;
}

/**
 * Tolerances for the conformance suite. Every engine passes its defaults (2e-5 absolute on
 * cosines, 1e-5 relative on algebra), webgl included, because SwiftShader renders float32
 * textures. On a GPU without float32 render targets tfjs falls back to float16 textures
 * (`describe().float32 === false`), which would not meet them.
 */
export const TOLERANCE: Record<TfjsEngine, { cosine?: number; algebra?: number }> = {
  wasm: {},
  cpu: {},
  webgl: {},
  webgpu: {},
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
