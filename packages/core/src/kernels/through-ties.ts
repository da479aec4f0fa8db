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
 *
 * Crowded rows (tight clusters, near-duplicates) differ by less than the stored scores' error, so
 * the true k best may rank below the `base` best by stored score: on rows around 100 centres a
 * tenth of their spread apart, 3 x k candidates found 0.86-0.93 of the true top 10. With `k` given
 * and `take` answering each candidate's exact score, the first scan selects spare rows past the
 * base (`SPARE`) and the candidates (at least `ERROR_SAMPLES`) measure that error:
 * where the best stored score left out, plus twice the largest error among them, reaches the k-th
 * exact score, the spare rows whose stored score is at least the k-th exact score less twice that
 * error are taken too. Random rows, whose scores spread wider than their error, rarely need it;
 * the spare rows cost a larger selection, never another pass over the rows, so a crowd wider than
 * them is re-ranked only as far as they go.
 */
export function throughTies(
  base: number,
  limit: number,
  queries: number,
  scan: (w: number, q0: number, q1: number) => TopKResult,
  take: (i: number, rows: Int32Array) => ArrayLike<number> | undefined,
  atLeast?: (group: readonly number[], edges: readonly number[]) => Int32Array[],
  k?: number,
): void {
  /** How many of query `at`'s `w` selected rows to rescore: the base and the ties of its last. */
  const upTo = (r: TopKResult, at: number, w: number): number => {
    const edge = r.scores[at + base - 1];
    let m = base;
    while (m < w && r.scores[at + m] === edge) m++;
    return m;
  };
  const adapt = k !== undefined;
  const spare = adapt ? Math.max(2 * ERROR_SAMPLES, Math.min((SPARE - 1) * base, MAX_SPARE)) : 0;
  const w0 = Math.min(limit, base + spare + 1);
  const all = scan(w0, 0, queries);
  const tied: number[] = [];
  for (let i = 0; i < queries; i++) {
    const at = i * w0;
    const m = upTo(all, at, w0);
    if (m < w0 || w0 >= limit) {
      // Enough candidates to measure the error by, however few the base.
      const m1 = adapt && m < w0 ? Math.max(m, Math.min(ERROR_SAMPLES, w0 - 1)) : m;
      const exact = take(i, all.indices.subarray(at, at + m1));
      const floor = exact && adapt && m1 < w0 ? floorOf(all.scores, at, m1, exact, k) : undefined;
      if (floor !== undefined) {
        let m2 = m1;
        while (m2 < w0 && all.scores[at + m2] >= floor) m2++;
        if (m2 > m1) take(i, all.indices.subarray(at + m1, at + m2));
      }
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
 * For the `m` candidates at `at` of a selection (stored scores in `stored`, ranked, the next one
 * left out) and their `exact` scores: the stored score a row must reach to be in the top `k`, where
 * the best row left out could, given twice the largest error among the candidates; else undefined.
 */
function floorOf(
  stored: Float32Array,
  at: number,
  m: number,
  exact: ArrayLike<number>,
  k: number,
): number | undefined {
  let err = 0;
  for (let t = 0; t < m; t++) err = Math.max(err, Math.abs(exact[t] - stored[at + t]));
  const sorted = Float64Array.from({ length: m }, (_, t) => exact[t]).sort();
  const kth = sorted[m - Math.min(k, m)];
  const floor = kth - 2 * err;
  return stored[at + m] >= floor ? floor : undefined;
}

/**
 * With exact scores to judge by, the first scan selects this many times the `base` candidates (at
 * most `MAX_SPARE` more than the base, at least twice `ERROR_SAMPLES`): those past the
 * base are taken only where the candidates' error says they may belong. On rows around 100 centres
 * (200,000 x 384, k = 10, rerank 3) they took recall@10 from 0.859 to 1.000 at about the search
 * time without re-ranking; a second pass over the codes for every row the error allowed, tried
 * first, found no more and cost 2.6x.
 */
const SPARE = 8;

/** The most rows the first scan selects past the base: a large k's selection stays near its size. */
const MAX_SPARE = 256;

/** The fewest candidates whose exact scores measure the stored scores' error (a base of 1 is one). */
const ERROR_SAMPLES = 16;

/**
 * Tied queries passed over the rows together by `atLeast`: one pass serves them all, and their
 * candidates (up to every row each) are held together, at most 8 x rows of them.
 */
const TIE_GROUP = 8;
