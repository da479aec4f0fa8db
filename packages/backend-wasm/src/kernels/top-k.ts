import type { Matrix, TopKResult } from '@cosinekit/core';
import { padded, type WasmRuntime } from '../runtime.js';

/**
 * `topK`: corpus and queries normalised into wasm once per call, then tiles of scores from the
 * dot-product engine feed a running per-query selection (never the full Q x N matrix).
 */
export function topK(rt: WasmRuntime, queries: Matrix, corpus: Matrix, k: number): TopKResult {
  const pc = rt.stageNormalized(corpus, 'topK');
  let pq = -1;
  try {
    pq = rt.stageNormalized(queries, 'topK');
    return rt.search(pq, queries.rows, pc, corpus.rows, padded(corpus.cols), k, 'topK');
  } finally {
    rt.free(pc);
    if (pq >= 0) rt.free(pq);
  }
}
