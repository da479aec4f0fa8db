import { type Matrix, type TopKResult, TopKSelector } from '@cosinekit/core/backend';
import type { Engine } from '../engine.js';
import { type DeviceRows, releaseRows, toDeviceRows } from '../rows.js';
import { forEachScoreTile } from '../scores.js';

/**
 * `topK`: score tiles on the device, selection on the CPU with core's running per-query heap,
 * so memory is O(Q x k + one tile) however large the corpus.
 */
export function topK(engine: Engine, queries: Matrix, corpus: Matrix, k: number): TopKResult {
  const cn = toDeviceRows(engine, corpus);
  try {
    return searchRows(engine, queries, cn, k);
  } finally {
    releaseRows(engine, cn);
  }
}

/**
 * Top-k of `queries` (normalised here) against rows already normalised on the device. The tiles
 * hold float32 scores already clamped to [-1, 1] on the device, the very values reported, and
 * they reach the selector in ascending corpus order: scores reported equal go to the lower index.
 */
export function searchRows(engine: Engine, queries: Matrix, corpus: DeviceRows, k: number): TopKResult {
  const qn = toDeviceRows(engine, queries);
  try {
    const sel = new TopKSelector(queries.rows, k);
    forEachScoreTile(engine, qn, corpus, (tile, q0, c0, rows, cols) => {
      for (let y = 0; y < rows; y++) sel.pushRow(q0 + y, tile[y], 0, c0, cols);
    });
    return sel.result();
  } finally {
    releaseRows(engine, qn);
  }
}
