import type { Matrix, TopKResult } from '@cosinekit/core/backend';
import { search } from '../engine.js';
import type { WasmRuntime } from '../runtime.js';
import { stageCorpus } from '../staging.js';
import { streams, streamTopK } from '../stream.js';

/**
 * `topK`: a few queries stream over the corpus (stream.ts); more, and the corpus is normalised
 * into wasm once per call, the queries a chunk at a time, then tiles of scores from the dot-product engine feed a
 * running per-query selection (never the full Q x N matrix).
 */
export function topK(rt: WasmRuntime, queries: Matrix, corpus: Matrix, k: number): TopKResult {
  if (streams(rt, queries.rows)) return streamTopK(rt, queries, corpus, k);
  const sc = stageCorpus(rt, corpus, true, 'topK', 'corpus');
  try {
    return search(rt, queries, sc, k, 'topK');
  } finally {
    rt.free(sc.ptr);
  }
}
