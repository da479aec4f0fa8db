/**
 * Packs `m` query rows and `n` corpus rows of `d` floats into the engine's layout, the way the
 * kernel scripts stage them for `dotsWith`: the rows are copied in turn to `src` (room for
 * max(m, n) rows), the queries packed to `a` in panels of `R` rows (the rows left over below a
 * panel one by one, after them) and the corpus to `b` in panels of `P` rows.
 */
export function packRows(ex, src, qs, m, xs, n, d, a, R, b, P) {
  const rowBytes = Math.ceil(d / 4) * 16;
  new Float32Array(ex.memory.buffer, src, m * d).set(qs);
  const split = m - (m % R);
  ex.pack(src, split, d, d, a, R, 1);
  ex.pack(src + split * d * 4, m - split, d, d, a + split * rowBytes, 1, 1);
  new Float32Array(ex.memory.buffer, src, n * d).set(xs);
  ex.pack(src, n, d, d, b, P, 1);
}
