import type { Matrix, TopKResult } from '../contract.js';

/** The listed rows of `m`, in that order, copied into one matrix (a group's queries for `atLeast`). */
export function pickRows(m: Matrix, rows: readonly number[]): Matrix {
  const d = m.cols;
  const data = new Float32Array(rows.length * d);
  for (let t = 0; t < rows.length; t++) data.set(m.data.subarray(rows[t] * d, (rows[t] + 1) * d), t * d);
  return { data, rows: rows.length, cols: d };
}

/**
 * The candidates a re-ranked search (int8 or float16 storage with `rerank > 0`) rescores: the
 * `base` best by stored score, and every row whose stored score ties the `base`-th's. Rows whose
 * codes are equal tie there while their exact cosines differ, and taking the lowest rows among
 * them left the true best out.
 *
 * `scan(w, q0, q1)` selects the `w` best of queries `q0 .. q1 - 1` (ties to the lower row). It runs
 * once for all queries with one more than `base`. A query whose ties fill that selection is scanned
 * again: with `atLeast(group, edges)`, once, up to 8 such queries in one pass, which answers for
 * each every row whose stored score (clamped and rounded as the selection ranks it) is at least its
 * `base`-th's, exactly the `base` best and their ties; without it, on its own, with 32 times as
 * many, then with all `limit` rows if its ties still fill it. `take(i, rows)` receives each query's candidates in turn (a view, valid during the call), so
 * a query whose ties span most of the corpus costs memory for itself alone: widening every query's
 * selection together held queries x rows candidates (1.5 GB for 64 zero queries over 1M int8
 * rows). Many equal rows (duplicates, as deduplication meets them) tie this way: a selection of
 * every row, query by query, made such a search 7 times slower, where the grouped pass costs about
 * one scan more. Shared by the reference and the wasm backend.
 */
export function throughTies(
  base: number,
  limit: number,
  queries: number,
  scan: (w: number, q0: number, q1: number) => TopKResult,
  take: (i: number, rows: Int32Array) => void,
  atLeast?: (group: readonly number[], edges: readonly number[]) => Int32Array[],
): void {
  /** How many of query `at`'s `w` selected rows to rescore: the base and the ties of its last. */
  const upTo = (r: TopKResult, at: number, w: number): number => {
    const edge = r.scores[at + base - 1];
    let m = base;
    while (m < w && r.scores[at + m] === edge) m++;
    return m;
  };
  const w0 = Math.min(limit, base + 1);
  const all = scan(w0, 0, queries);
  const tied: number[] = [];
  for (let i = 0; i < queries; i++) {
    const m = upTo(all, i * w0, w0);
    if (m < w0 || w0 >= limit) {
      take(i, all.indices.subarray(i * w0, i * w0 + m));
      continue;
    }
    if (atLeast) {
      tied.push(i);
      continue;
    }
    // Wide ties are usually very wide (a zero query ties every row): 32 times as many, then all.
    for (let w = Math.min(limit, 32 * w0); ; w = limit) {
      const one = scan(w, i, i + 1);
      const n = upTo(one, 0, w);
      if (n < w || w >= limit) {
        take(i, one.indices.subarray(0, n));
        break;
      }
    }
  }
  for (let g = 0; g < tied.length; g += TIE_GROUP) {
    const group = tied.slice(g, g + TIE_GROUP);
    const lists = atLeast!(
      group,
      group.map((i) => all.scores[i * w0 + base - 1]),
    );
    for (let t = 0; t < group.length; t++) take(group[t], lists[t]);
  }
}

/**
 * Tied queries passed over the rows together by `atLeast`: one pass serves them all, and their
 * candidates (up to every row each) are held together, at most 8 x rows of them.
 */
const TIE_GROUP = 8;
