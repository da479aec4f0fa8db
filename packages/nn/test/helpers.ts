import { createRng } from '../src/rng.js';

/** Random float64 values in [-1, 1). */
export function randomVec(n: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = 2 * rng.next() - 1;
  return out;
}

/**
 * Largest relative error between an analytic gradient and central differences of `f` with
 * respect to `x` (changed in place and restored): |a - n| / max(|a| + |n|, 1e-8).
 */
export async function maxRelativeError(
  f: () => Promise<number> | number,
  x: Float64Array,
  analytic: ArrayLike<number>,
  h = 1e-6,
): Promise<number> {
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + h;
    const up = await f();
    x[i] = keep - h;
    const down = await f();
    x[i] = keep;
    const numeric = (up - down) / (2 * h);
    const err = Math.abs(analytic[i] - numeric) / Math.max(Math.abs(analytic[i]) + Math.abs(numeric), 1e-8);
    worst = Math.max(worst, err);
  }
  return worst;
}
