import type { Matrix, TopKResult } from '@cosinekit/core/backend';
import { search } from '../engine.js';
import type { WasmRuntime } from '../runtime.js';
import { stageCorpus, stageQueries } from '../staging.js';
import { streams, streamTopK } from '../stream.js';

/**
 * `topK`: a few queries stream over the corpus (stream.ts); more, and corpus and queries are
 * normalised into wasm once per call, then tiles of scores from the dot-product engine feed a
 * running per-query selection (never the full Q x N matrix).
 */
export function topK(rt: WasmRuntime, queries: Matrix, corpus: Matrix, k: number): TopKResult {
  if (streams(rt, queries.rows)) return streamTopK(rt, queries, corpus, k);
  const sc = stageCorpus(rt, corpus, true, 'topK', 'corpus');
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
