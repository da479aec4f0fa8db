/**
 * Copies the listed rows (`count` i32 row numbers at `idx`) of a block in panels of `P` rows, each
 * row `steps` chunks of 16 bytes (the engine's corpus layout, see layout.ts), into block `dst` in
 * the same layout, in list order from its row `first`, and zeroes the rows after them up to the end
 * of their panel. A filtered search then runs the dot-product engine over the rows that pass only;
 * a merge of corpora places each one's kept rows after the last one's.
 */
export function gatherRows(
  src: usize,
  P: i32,
  steps: i32,
  idx: usize,
  count: i32,
  dst: usize,
  first: i32,
): void {
  const chunk = (<usize>P) << 4;
  const panelBytes = <usize>steps * chunk;
  const end = first + count;
  const total = ((end + P - 1) / P) * P;
  const zero = f32x4.splat(0);
  for (let t = first; t < total; t++) {
    let d = dst + <usize>(t / P) * panelBytes + ((<usize>(t % P)) << 4);
    if (t >= end) {
      for (let s = 0; s < steps; s++) {
        v128.store(d, zero);
        d += chunk;
      }
      continue;
    }
    const j = load<i32>(idx + ((<usize>(t - first)) << 2));
    let r = src + <usize>(j / P) * panelBytes + ((<usize>(j % P)) << 4);
    for (let s = 0; s < steps; s++) {
      v128.store(d, v128.load(r));
      d += chunk;
      r += chunk;
    }
  }
}

/**
 * Copies the listed rows (`count` i32 row numbers at `idx`) of an int8 block, `stride` bytes each (a
 * multiple of 16), into `dst` in list order, and their float32 scales into `dstScales`: a filtered
 * int8 search then scans the rows that pass only, with the very codes and scales they hold.
 */
export function gatherI8(
  src: usize,
  stride: i32,
  scales: usize,
  idx: usize,
  count: i32,
  dst: usize,
  dstScales: usize,
): void {
  const bytes = <usize>stride;
  for (let t = 0; t < count; t++) {
    const j = <usize>load<i32>(idx + ((<usize>t) << 2));
    const r = src + j * bytes;
    const d = dst + <usize>t * bytes;
    for (let p: usize = 0; p < bytes; p += 16) v128.store(d + p, v128.load(r + p));
    store<f32>(dstScales + ((<usize>t) << 2), load<f32>(scales + (j << 2)));
  }
}

/**
 * How many of the `n` bytes at `mask` are 1 (a filter's passing rows): sixteen bytes per step,
 * so a filtered search counts its rows, and each tile's, without a pass in JS.
 */
export function countAllowed(mask: usize, n: i32): i32 {
  const one = i8x16.splat(1);
  let count = 0;
  let t = 0;
  for (; t + 16 <= n; t += 16) count += popcnt(i8x16.bitmask(i8x16.eq(v128.load(mask + <usize>t), one)));
  for (; t < n; t++) count += i32(load<u8>(mask + <usize>t) === 1);
  return count;
}
