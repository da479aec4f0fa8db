// biome-ignore-all format: hand-laid register tiles read best one tile row per line
import { cosineFrom } from './cosine-rule.js';

/**
 * Cosine of two float32 runs of length `d` in one pass: dot and both squared norms, four accumulators
 * each, in float64. Zero vector gives 0; the result is clamped to [-1, 1]. Returns NaN when an
 * input holds NaN or ±Infinity, which the public API turns into an error.
 */
export function cosineOf(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  // Two accumulators per sum measured fastest on Float32Array (1.6x the naive loop); four spill.
  let d0 = 0, d1 = 0, x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  let p = 0;
  for (; p + 2 <= d; p += 2) {
    const a0 = a[ao + p], a1 = a[ao + p + 1];
    const b0 = b[bo + p], b1 = b[bo + p + 1];
    d0 += a0 * b0; d1 += a1 * b1;
    x0 += a0 * a0; x1 += a1 * a1;
    y0 += b0 * b0; y1 += b1 * b1;
  }
  if (p < d) {
    const u = a[ao + p], v = b[bo + p];
    d0 += u * v; x0 += u * u; y0 += v * v;
  }
  return cosineFrom(d0 + d1, (x0 + x1) * (y0 + y1));
}

/**
 * The same cosine for any array of numbers (Float64Array, number[]): a separate function, so the
 * float32 kernel above keeps monomorphic element loads and stays on V8's fast path.
 */
export function cosineOfAny(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i < a.length; i++) {
    const u = a[i];
    const v = b[i];
    dot += u * v;
    x += u * u;
    y += v * v;
  }
  return cosineFrom(dot, x * y);
}
