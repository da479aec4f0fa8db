// biome-ignore-all format: hand-laid register tiles read best one tile row per line
import { clampCos, cosineFrom } from './cosine-rule.js';

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
 * float32 kernel above keeps monomorphic element loads and stays on V8's fast path. Float64 values
 * can square past the float64 range (|x| > 2^511) or below it (|x| < 2^-537), where the sums
 * overflow to Infinity or vanish and the cosine would come out NaN or a wrong 0: then both vectors
 * are scaled by powers of two (exact; cosine does not change with scale) and summed again.
 */
export function cosineOfAny(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const c = sumsOf(a, 1, b, 1);
  if (!Number.isNaN(c)) return c;
  const fa = unitScale(a);
  const fb = unitScale(b);
  // A zero vector gives 0; a non-finite one NaN, for the caller to report.
  if (fa === 0 || fb === 0) return Number.isNaN(fa) || Number.isNaN(fb) ? Number.NaN : 0;
  return sumsOf(a, fa, b, fb);
}

/** Squared norms within [2^-900, 2^900]: their roots and products stay normal float64 numbers. */
const SAFE_LO = 2 ** -900;
const SAFE_HI = 2 ** 900;

/** The cosine of `a * fa` and `b * fb`, or NaN when a squared norm leaves the safe range. */
function sumsOf(a: ArrayLike<number>, fa: number, b: ArrayLike<number>, fb: number): number {
  let dot = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i < a.length; i++) {
    const u = a[i] * fa;
    const v = b[i] * fb;
    dot += u * v;
    x += u * u;
    y += v * v;
  }
  return safeCosine(dot, x, y);
}

/**
 * The cosine from float64 sums `dot`, `x = ‖a‖²`, `y = ‖b‖²`, or NaN when a squared norm leaves
 * [2^-900, 2^900] (NaN, Infinity, a zero vector, or values whose sums lost digits): the caller
 * then scales, or reports.
 */
export function safeCosine(dot: number, x: number, y: number): number {
  if (!(x >= SAFE_LO && x <= SAFE_HI && y >= SAFE_LO && y <= SAFE_HI)) return Number.NaN;
  return clampCos(dot / (Math.sqrt(x) * Math.sqrt(y)));
}

/**
 * The power of two that brings the largest |v| into [0.5, 1) (about 2^-300 when |v| is below
 * 2^-1000): exact to multiply by. 0 for a zero vector, NaN for one holding NaN or ±Infinity.
 */
export function unitScale(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) {
    const t = Math.abs(v[i]);
    // NaN lands here too: return at once, for a later element would replace it (!(1 <= NaN) is
    // true) and [NaN, 0] would pass for a zero vector.
    if (!(t <= m)) {
      if (Number.isNaN(t)) return Number.NaN;
      m = t;
    }
  }
  if (m === 0) return 0;
  if (!Number.isFinite(m)) return Number.NaN;
  let e = Math.floor(Math.log2(m)) + 1;
  // log2 rounds near powers of two; settle the exponent exactly.
  if (m * 2 ** -e >= 1) e++;
  else if (m * 2 ** -e < 0.5) e--;
  // For m near the subnormals 2^-e would overflow: bring m to about 2^-300 instead (its squares,
  // about 2^-600, are still well inside the float64 range).
  return e < -1000 ? 2 ** (-e - 300) : 2 ** -e;
}
