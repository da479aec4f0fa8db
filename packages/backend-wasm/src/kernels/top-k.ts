import type { Matrix, TopKResult } from '@cosinekit/core/backend';
import { search } from '../engine.js';
import type { WasmRuntime } from '../runtime.js';
import { stageCorpus, stageQueries } from '../staging.js';

/**
 * `topK`: corpus and queries normalised into wasm once per call, then tiles of scores from the
 * dot-product engine feed a running per-query selection (never the full Q x N matrix).
 */
export function topK(rt: WasmRuntime, queries: Matrix, corpus: Matrix, k: number): TopKResult {
  const sc = stageCorpus(rt, corpus, true, 'topK');
  try {
    const sq = stageQueries(rt, queries, true, 'topK');
    try {
      return search(rt, sq, sc, k, 'topK');
    } finally {
      rt.free(sq.ptr);
    }
  } finally {
    rt.free(sc.ptr);
  }
}
