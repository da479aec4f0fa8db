import type { Matrix, TopKResult } from '../contract.js';

/** The listed rows of `m`, in that order, copied into one matrix: a group of queries, as a re-ranked search passes them to `atLeast` and `whole` (see {@link throughTies}). */
export function pickRows(m: Matrix, rows: readonly number[]): Matrix {
  const d = m.cols;
  const data = new Float32Array(rows.length * d);
  for (let t = 0; t < rows.length; t++) data.set(m.data.subarray(rows[t] * d, (rows[t] + 1) * d), t * d);
  return { data, rows: rows.length, cols: d };
}

/** What `atLeast` answers for one query of its group (see {@link throughTies}). */
interface AtLeast {
  /** Every row it may choose whose stored score ranks at least its edge, ascending. */
  readonly rows: Int32Array;
  /** The highest stored score below the edge among the rows passed over; -Infinity when none. */
  readonly next: number;
}

/** How a re-ranked search makes its answer the exact one (see {@link throughTies}). */
interface Settle {
  /**
   * How far query `i`'s stored score of any row may lie from its exact score: a bound (the
   * storage's error bound, with room for float32 rounding), not an estimate.
   */
  readonly bound: (i: number) => number;
  /** The k-th best exact score query `i`'s candidates hold so far; -Infinity while fewer than k. */
  readonly kth: (i: number) => number;
  /** Forgets query `i`'s candidates, so a complete list of them can be taken again. */
  readonly reset: (i: number) => void;
  /**
   * The most rows worth re-scoring for one query rather than answering it by `whole` (a float32
   * scan of all its rows costs about as much); Infinity where re-scoring is never dearer.
   */
  readonly most: number;
  /**
   * Answers each query of `group` from its rows scored exactly (the float32 rows kept, scanned
   * whole), replacing what `take` gave it.
   */
  readonly whole: (group: readonly number[]) => void;
  /**
   * Whether query `i` is zero: its stored and exact scores of every row are then 0, a tie the
   * scan breaks to the lower row as a float32 search does, so its first `base` rows are its answer
   * and no other row is scored. Absent: no query is taken for zero.
   */
  readonly zero?: (i: number) => boolean;
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
 * the true k best may rank below the candidates by stored score. With `settle` given (`take` then
 * answers each candidate's exact score), the answer is the exact one: a row whose stored score is
 * more than `bound(i)` below the k-th best exact score among the candidates (the floor) cannot be
 * in the top k. The first scan selects spare rows past the base (`SPARE`), and those that reach
 * the floor are taken too. Where every spare row reaches it (a crowd wider than them), or a tied
 * query's best stored score below its edge (`next` of `atLeast`) does, `atLeast` lists every row
 * that reaches the floor (for up to `LIST_MOST` such queries, in one pass), and the query takes
 * that list afresh (all it can choose), or, past `most` rows or in a larger batch, is answered by
 * `whole`, up to `WHOLE_GROUP` queries a call; so is a tied query whose ties span more than
 * `most` rows (exact duplicates). The
 * bound is a worst case (random rows err by 4-7% of it at d = 384-1536), so near the top it can
 * span many rows: random 1536-d rows took the floor past the spare rows for every query, and
 * listing them cost an int8 pass and a few hundred re-scored rows where a float32 scan cost 1.6x.
 * An estimate of the error from the candidates' own errors, tried first, missed neighbours: a
 * crowd's rows share their codes and so their errors (a crowd quantised exactly measured 0), and
 * rows of other codes are off by more. Returns how many queries were listed by a second pass
 * (tied or crowded) and how many answered by `whole`: each cost at least one more pass over the
 * rows.
 */
export function throughTies(
  base: number,
  limit: number,
  queries: number,
  scan: (w: number, q0: number, q1: number) => TopKResult,
  take: (i: number, rows: Int32Array) => ArrayLike<number> | undefined,
  atLeast?: (group: readonly number[], edges: readonly number[]) => AtLeast[],
  settle?: Settle,
): { listed: number; whole: number } {
  /** How many of query `at`'s `w` selected rows to rescore: the base and the ties of its last. */
  const upTo = (r: TopKResult, at: number, w: number): number => {
    const edge = r.scores[at + base - 1];
    let m = base;
    while (m < w && r.scores[at + m] === edge) m++;
    return m;
  };
  const spare = settle ? Math.max(MIN_SPARE, Math.min((SPARE - 1) * base, MAX_SPARE)) : 0;
  const w0 = Math.min(limit, base + spare + 1);
  const all = scan(w0, 0, queries);
  const tied: number[] = [];
  /** Queries whose neighbours may lie among the rows left out, and their floors. */
  const crowded: number[] = [];
  const floors: number[] = [];
  /** The stored score a row must reach to enter query `i`'s top k, given its candidates so far. */
  const floorOf = (i: number): number => settle!.kth(i) - settle!.bound(i);
  /** Whether a row left out whose stored score is `next` could reach `floor`: then query `i` crowds. */
  const reaches = (i: number, next: number, floor = floorOf(i)): boolean => {
    if (next < floor) return false;
    crowded.push(i);
    floors.push(floor);
    return true;
  };
  for (let i = 0; i < queries; i++) {
    const at = i * w0;
    const m = upTo(all, at, w0);
    if (m < w0 || w0 >= limit) {
      const exact = take(i, all.indices.subarray(at, at + m));
      if (!settle || !exact || m >= w0) continue;
      // Every spare row reaches the floor: rows past the selection may too (no use re-scoring them).
      const floor = floorOf(i);
      if (w0 < limit && reaches(i, all.scores[at + w0 - 1], floor)) continue;
      let m2 = m;
      while (m2 < w0 && all.scores[at + m2] >= floor) m2++;
      if (m2 > m) take(i, all.indices.subarray(at + m, at + m2));
      continue;
    }
    if (settle?.zero?.(i)) {
      // Every row ties at 0, stored and exact: listing them all re-scored every row (8 zero
      // queries over 200,000 int8 rows took 41-91 ms, against 5 ms for a float32 search).
      take(i, all.indices.subarray(at, at + base));
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
        const exact = take(i, one.indices.subarray(0, n));
        if (settle && exact && n < w) reaches(i, one.scores[n]);
        break;
      }
    }
  }
  /** Queries answered by `whole`: crowded ones listed past `most` rows, or tied past it. */
  const wide: number[] = [];
  /** Queries listed by a second pass (their ties, or the rows within their floor), not `whole`. */
  const listed = new Set<number>();
  for (let g = 0; g < tied.length; g += TIE_GROUP) {
    const group = tied.slice(g, g + TIE_GROUP);
    const lists = atLeast!(
      group,
      group.map((i) => all.scores[i * w0 + base - 1]),
    );
    for (let t = 0; t < group.length; t++) {
      const { rows, next } = lists[t];
      // Ties past `most` rows (exact duplicates: a tenth of the rows each) cost more re-scored one
      // by one than a float32 scan (200,000 x 96 in 10 distinct rows: 38 ms, float32 8 ms), and
      // count as crowded, so a corpus that keeps tying learns to scan its float32 rows first.
      if (settle && rows.length > settle.most) {
        wide.push(group[t]);
        continue;
      }
      const exact = take(group[t], rows);
      listed.add(group[t]);
      if (settle && exact && next !== Number.NEGATIVE_INFINITY) reaches(group[t], next);
    }
  }
  if (!settle) return { listed: 0, whole: 0 };
  if (crowded.length === 0 && wide.length === 0) return { listed: listed.size, whole: 0 };
  // Every row a crowded query can choose reaches its floor: listed, and taken afresh where few. A
  // batch of crowded queries goes to the float32 scan at once: it serves WHOLE_GROUP queries a pass
  // where a listing pass serves LIST_MOST, and batched, an int8 pass costs about what a float32
  // one does (16 crowded queries at d = 1536 took 121 ms listed, 91 scanned, 49 for float32 alone).
  const lists =
    atLeast && crowded.length > 0 && crowded.length <= LIST_MOST ? atLeast(crowded, floors) : null;
  for (let t = 0; t < crowded.length; t++) {
    if (lists && lists[t].rows.length <= settle.most) {
      settle.reset(crowded[t]);
      take(crowded[t], lists[t].rows);
      listed.add(crowded[t]);
    } else {
      wide.push(crowded[t]);
      listed.delete(crowded[t]);
    }
  }
  wide.sort((a, b) => a - b);
  for (let g = 0; g < wide.length; g += WHOLE_GROUP) settle.whole(wide.slice(g, g + WHOLE_GROUP));
  return { listed: listed.size, whole: wide.length };
}

/**
 * With a bound to judge by, the first scan selects this many times the `base` candidates (at most
 * `MAX_SPARE` more than the base, at least `MIN_SPARE`): those past the base are taken only where
 * their stored score is within the bound of the k-th exact score. On rows around 100 centres
 * (200,000 x 384, k = 10, rerank 3) they took recall@10 from 0.859 to 1.000 at about the search
 * time without re-ranking; a second pass over the codes for every row the error allowed, tried
 * first, found no more and cost 2.6x.
 */
const SPARE = 8;

/** The most rows the first scan selects past the base: a large k's selection stays near its size. */
const MAX_SPARE = 256;

/** The fewest rows the first scan selects past the base (a base of 1 included). */
const MIN_SPARE = 32;

/**
 * Tied queries passed over the rows together by `atLeast`: one pass serves them all, and their
 * candidates (up to every row each) are held together, at most 8 x rows of them.
 */
const TIE_GROUP = 8;

/** The most crowded queries of one search that are listed; more go to `whole` (see throughTies). */
const LIST_MOST = 8;

/** Crowded queries answered by one call of `whole`: one scan of the float32 rows serves them. */
const WHOLE_GROUP = 64;
