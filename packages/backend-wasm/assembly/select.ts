/**
 * Candidates for a running top-k selection, found in wasm so the JS selector only sees the few
 * scores that can still enter it.
 */

/**
 * Writes to `out` (i32) the positions t < `n` with `scores[t] >= floor`, in increasing order, and
 * returns how many. Sixteen scores per step: a block with no candidate, by far the most common once
 * the selection is full, costs four compares and one test.
 */
export function above(scores: usize, n: i32, floor: f32, out: usize): i32 {
  const f = f32x4.splat(floor);
  let count = 0;
  let t = 0;
  for (; t + 16 <= n; t += 16) {
    const p = scores + ((<usize>t) << 2);
    const hit = v128.or(
      v128.or(f32x4.ge(v128.load(p), f), f32x4.ge(v128.load(p, 16), f)),
      v128.or(f32x4.ge(v128.load(p, 32), f), f32x4.ge(v128.load(p, 48), f)),
    );
    if (v128.any_true(hit)) {
      for (let u = 0; u < 16; u++) {
        // Branch-free compaction: always store, advance only past a candidate.
        store<i32>(out + ((<usize>count) << 2), t + u);
        count += i32(load<f32>(p + ((<usize>u) << 2)) >= floor);
      }
    }
  }
  for (; t < n; t++) {
    store<i32>(out + ((<usize>count) << 2), t);
    count += i32(load<f32>(scores + ((<usize>t) << 2)) >= floor);
  }
  return count;
}
