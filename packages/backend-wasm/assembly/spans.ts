/**
 * Long rows. A dot product of rows longer than {@link SPAN_STEPS} steps (4 floats a step) is
 * summed span by span: each span of at most SPAN_STEPS steps is one chain of multiply-adds per
 * lane from +0, reduced to one float as rows of that length are, and the spans' sums are added in
 * order in float32. One chain over the whole row rounds at every step: for a row of d equal
 * values its error grows with d (3e-5 to 5e-5 at d = 12,000 to 20,000, 1.1e-4 at 100,000, 1.2e-3
 * at 500,000); span by span it stays near that of one span of 4096 floats (below 1e-5), plus a
 * rounding per span added. Rows of at most SPAN_STEPS steps (4096 floats) are one span: their
 * sums are as before.
 */

/** Steps (4 floats each) per span of a long row. */
export const SPAN_STEPS: i32 = 1024;

/** {@link SPAN_STEPS}, for the JS side. */
export function spanSteps(): i32 {
  return SPAN_STEPS;
}

/** `dst[i][j] += src[i][j]` for `rows` x `cols` floats, rows `ldd` and `lds` floats apart. */
export function addRows(dst: usize, ldd: i32, src: usize, lds: i32, rows: i32, cols: i32): void {
  for (let i = 0; i < rows; i++) {
    const d = dst + ((<usize>i * <usize>ldd) << 2);
    const s = src + ((<usize>i * <usize>lds) << 2);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(s + o)));
    }
    for (; j < cols; j++) {
      const o = (<usize>j) << 2;
      store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
    }
  }
}

/** `dst[i][j]` clamped to [-1, 1] (NaN stays NaN) for `rows` x `cols` floats, rows `ldd` floats apart. */
export function clampRows(dst: usize, ldd: i32, rows: i32, cols: i32): void {
  const lo = f32x4.splat(-1);
  const hi = f32x4.splat(1);
  for (let i = 0; i < rows; i++) {
    const d = dst + ((<usize>i * <usize>ldd) << 2);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(d + o, f32x4.pmin(f32x4.pmax(v128.load(d + o), lo), hi));
    }
    for (; j < cols; j++) {
      const o = (<usize>j) << 2;
      store<f32>(d + o, min<f32>(max<f32>(load<f32>(d + o), -1), 1));
    }
  }
}
