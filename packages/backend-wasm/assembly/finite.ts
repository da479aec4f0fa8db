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

/**
 * 1 when all `n` floats at `x` are finite, else 0. Sixteen floats per loop step into two running
 * masks (the loop's own instructions, V8's interrupt check on the back edge among them, were most
 * of a four-float step: 1.6x faster on a cached 784 x 256 block), then four, then one.
 */
export function allFinite(x: usize, n: i32): i32 {
  let ok = v128.not(i32x4.splat(0));
  let ok1 = ok;
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = x + ((<usize>i) << 2);
    ok = finiteLanes(finiteLanes(ok, v128.load(p)), v128.load(p, 16));
    ok1 = finiteLanes(finiteLanes(ok1, v128.load(p, 32)), v128.load(p, 48));
  }
  ok = v128.and(ok, ok1);
  for (; i + 4 <= n; i += 4) ok = finiteLanes(ok, v128.load(x + ((<usize>i) << 2)));
  if (!v128.all_true<i32>(ok)) return 0;
  for (; i < n; i++) {
    const v = load<f32>(x + ((<usize>i) << 2));
    if (v - v !== 0) return 0;
  }
  return 1;
}
