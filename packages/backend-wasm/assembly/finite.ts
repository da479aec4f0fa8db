/**
 * Finiteness checks over floats in wasm memory: v - v is 0 for a finite v and NaN for ±Inf and
 * NaN, and NaN is unequal to itself.
 */

/**
 * `ok` with the lanes of `r` that are not finite cleared (start from all ones; all_true at the end).
 * Small enough for the optimiser to inline at every use.
 */
export function finiteLanes(ok: v128, r: v128): v128 {
  const d = f32x4.sub(r, r);
  return v128.and(ok, f32x4.eq(d, d));
}

/** 1 when all `n` floats at `x` are finite, else 0. */
export function allFinite(x: usize, n: i32): i32 {
  let ok = v128.not(i32x4.splat(0));
  let i = 0;
  for (; i + 4 <= n; i += 4) ok = finiteLanes(ok, v128.load(x + ((<usize>i) << 2)));
  if (!v128.all_true<i32>(ok)) return 0;
  for (; i < n; i++) {
    const v = load<f32>(x + ((<usize>i) << 2));
    if (v - v !== 0) return 0;
  }
  return 1;
}
