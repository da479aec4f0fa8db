import type { Matrix, TopKResult } from '../contract.js';
import { dotBlock, normalizedF64 } from './blocked-dot.js';
import { TopKSelector } from './top-k-selector.js';

/** Queries and corpus rows per tile: the score tile is at most 64 x 256 float64 (128 KiB). */
const QUERY_TILE = 64;
const CORPUS_TILE = 256;

/** Reference `topK`: normalise, then tiles of scores streamed into a per-query selection. */
export function topK(queries: Matrix, corpus: Matrix, k: number): TopKResult {
  const qn = normalizedF64(queries.data, queries.rows, queries.cols);
  const cn = normalizedF64(corpus.data, corpus.rows, corpus.cols);
  return searchNormalized(qn, queries.rows, cn, corpus.rows, corpus.cols, k);
}

/** Tiled exact search over row-normalised float64 data: O(Q x k + tile) extra memory. */
export function searchNormalized(
  qn: Float64Array,
  q: number,
  cn: Float64Array,
  n: number,
  d: number,
  k: number,
): TopKResult {
  const sel = new TopKSelector(q, k);
  const tile = new Float64Array(QUERY_TILE * CORPUS_TILE);
  for (let i0 = 0; i0 < q; i0 += QUERY_TILE) {
    const i1 = Math.min(q, i0 + QUERY_TILE);
    for (let j0 = 0; j0 < n; j0 += CORPUS_TILE) {
      const j1 = Math.min(n, j0 + CORPUS_TILE);
      const w = j1 - j0;
      dotBlock(qn, i0, i1, cn, j0, j1, d, tile, w);
      for (let i = i0; i < i1; i++) sel.pushRow(i, tile, (i - i0) * w, j0, w);
    }
  }
  return sel.result();
}
