import type { TopKResult } from '../contract.js';

/**
 * The candidates a re-ranked search (int8 or float16 storage with `rerank > 0`) rescores: the
 * `base` best by stored score, and every row whose stored score ties the `base`-th's. Rows whose
 * codes are equal tie there while their exact cosines differ, and taking the lowest rows among
 * them left the true best out. `scan(w)` selects the `w` best of each query (ties to the lower
 * row); it runs with one more than `base`, and again with twice as many while some query's ties
 * fill the selection, never past `limit` (the rows that may be chosen). Returns the selection and
 * how many of each query's candidates to rescore. Shared by the reference and the wasm backend.
 */
export function throughTies(
  base: number,
  limit: number,
  scan: (w: number) => TopKResult,
): { approx: TopKResult; counts: Int32Array } {
  let w = Math.min(limit, base + 1);
  for (;;) {
    const approx = scan(w);
    const counts = new Int32Array(approx.queries);
    let full = false;
    for (let i = 0; i < approx.queries; i++) {
      const at = i * w;
      const edge = approx.scores[at + base - 1];
      let m = base;
      while (m < w && approx.scores[at + m] === edge) m++;
      counts[i] = m;
      if (m === w && w < limit) full = true;
    }
    if (!full) return { approx, counts };
    w = Math.min(limit, 2 * w);
  }
}
