// biome-ignore-all format: hand-laid register tiles read best one tile row per line
/**
 * Cosine of two runs of length `d` in one pass: dot and both squared norms, four accumulators
 * each, in float64. Zero vector gives 0; the result is clamped to [-1, 1]. Returns NaN when an
 * input holds NaN or ±Infinity, which the public API turns into an error.
 */
export function cosineOf(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, d: number): number {
  let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
  let x0 = 0, x1 = 0, x2 = 0, x3 = 0;
  let y0 = 0, y1 = 0, y2 = 0, y3 = 0;
  let p = 0;
  for (; p + 4 <= d; p += 4) {
    const a0 = a[ao + p], a1 = a[ao + p + 1], a2 = a[ao + p + 2], a3 = a[ao + p + 3];
    const b0 = b[bo + p], b1 = b[bo + p + 1], b2 = b[bo + p + 2], b3 = b[bo + p + 3];
    d0 += a0 * b0; d1 += a1 * b1; d2 += a2 * b2; d3 += a3 * b3;
    x0 += a0 * a0; x1 += a1 * a1; x2 += a2 * a2; x3 += a3 * a3;
    y0 += b0 * b0; y1 += b1 * b1; y2 += b2 * b2; y3 += b3 * b3;
  }
  for (; p < d; p++) {
    const u = a[ao + p], v = b[bo + p];
    d0 += u * v; x0 += u * u; y0 += v * v;
  }
  const dot = d0 + d1 + d2 + d3;
  const nn = (x0 + x1 + x2 + x3) * (y0 + y1 + y2 + y3);
  if (nn === 0) return Number.isNaN(dot) ? Number.NaN : 0;
  const c = dot / Math.sqrt(nn);
  return c > 1 ? 1 : c < -1 ? -1 : c;
}
