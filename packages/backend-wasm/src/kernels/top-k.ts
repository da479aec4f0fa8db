import type { Matrix, TopKResult } from '@cosinekit/core/backend';
import type { WasmRuntime } from '../runtime.js';

/**
 * `topK`: corpus and queries normalised into wasm once per call, then tiles of scores from the
 * dot-product engine feed a running per-query selection (never the full Q x N matrix).
 */
export function topK(rt: WasmRuntime, queries: Matrix, corpus: Matrix, k: number): TopKResult {
  const sc = rt.stageCorpus(corpus, true, 'topK');
  try {
    const sq = rt.stageQueries(queries, true, 'topK');
    try {
      return rt.search(sq, sc, k, 'topK');
    } finally {
      rt.free(sq.ptr);
    }
  } finally {
    rt.free(sc.ptr);
  }
}
