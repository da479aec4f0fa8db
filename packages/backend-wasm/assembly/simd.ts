/**
 * Shared SIMD helpers. The same sources build two binaries: plain SIMD, and relaxed SIMD where
 * `madd` becomes one fused `f32x4.relaxed_madd` (asc folds the constant branch away).
 */

/** `c + a * b` on four lanes: fused with relaxed SIMD, a multiply then an add without. */
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** Sum of the four lanes, pairwise. */
export function hsum(v: v128): f32 {
  return (
    f32x4.extract_lane(v, 0) +
    f32x4.extract_lane(v, 1) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3))
  );
}

/** Stores the lane sum of `v` at `ptr`, clamped to [-1, 1] when the sums are cosines. */
export function put(ptr: usize, v: v128, clamp: bool): void {
  let s = hsum(v);
  if (clamp) s = min<f32>(max<f32>(s, -1), 1);
  store<f32>(ptr, s);
}
