import type { Matrix, TopKResult } from '../contract.js';
import { dotTiles, stageRows } from './blocked-dot.js';
import { TopKSelector } from './top-k-selector.js';

/** Queries and corpus rows per tile: the score tile is at most 64 x 256 float64 (128 KiB). */
export const QUERY_TILE = 64;
export const CORPUS_TILE = 256;

/**
 * Float64 values a staged block of rows holds at most (8 MiB): past 4096 floats a row, blocks get
 * fewer rows (at d = 65,536 a block of 256 rows was a new 128 MiB array per call, 15-25x the time
 * per value of d = 384). Cosines do not depend on the blocking.
 */
export const STAGE_VALUES = 2 ** 20;

/** Rows of `d` values per staged block: `most`, or fewer to stay within {@link STAGE_VALUES}. */
export function blockRowsFor(most: number, d: number): number {
  return Math.max(1, Math.min(most, Math.floor(STAGE_VALUES / d)));
}

/**
 * Reference `topK`: the queries normalised once, the corpus a tile at a time, and each tile of
 * scores streamed into a per-query selection: O(Q x (k + d) + tile) extra memory, never the Q x N
 * scores. Corpus rows are normalised and rounded to float32, as a resident corpus stores them, so a
 * one-off search and a resident corpus of the same rows agree bit for bit.
 */
export function topK(queries: Matrix, corpus: Matrix, k: number): TopKResult {
  const sel = new TopKSelector(queries.rows, k);
  forEachScoreTile(
    queries,
    corpus.rows,
    (j0, j1, s, at) => {
      stageRows(corpus.data, j0, j1, corpus.cols, s, at, true);
      for (let i = at, e = at + (j1 - j0) * corpus.cols; i < e; i++) s[i] = Math.fround(s[i]);
    },
    (i, tile, off, start, w) => sel.pushRow(i, tile, off, start, w),
  );
  return sel.result();
}

/**
 * Streams the scores of `queries` against `n` corpus rows, a tile at a time, into
 * `each(query, tile, offset, start, width)`. One float64 staging array holds the normalised
 * queries from offset 0 and, behind them, CORPUS_TILE rows of the corpus, which
 * `fill(j0, j1, s, at)` writes (rows [j0, j1), normalised, from offset `at`): each corpus tile is
 * staged once and every query tile passes over it. Returns the staging array.
 */
export function forEachScoreTile(
  queries: Matrix,
  n: number,
  fill: (j0: number, j1: number, s: Float64Array, at: number) => void,
  each: (i: number, tile: Float64Array, off: number, start: number, width: number) => void,
): Float64Array {
  const { rows: q, cols: d } = queries;
  const tile = blockRowsFor(CORPUS_TILE, d);
  const at = q * d;
  const s = new Float64Array(at + Math.min(n, tile) * d);
  stageRows(queries.data, 0, q, d, s, 0, true);
  const scores = new Float64Array(Math.min(q, QUERY_TILE) * Math.min(n, tile));
  for (let j0 = 0; j0 < n; j0 += tile) {
    const j1 = Math.min(n, j0 + tile);
    const w = j1 - j0;
    fill(j0, j1, s, at);
    for (let i0 = 0; i0 < q; i0 += QUERY_TILE) {
      const i1 = Math.min(q, i0 + QUERY_TILE);
      dotTiles(s, i0 * d, i1 - i0, at, w, d, scores, 0, w);
      for (let i = i0; i < i1; i++) each(i, scores, (i - i0) * w, j0, w);
    }
  }
  return s;
}
