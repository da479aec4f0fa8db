import type { Matrix } from '@cosinekit/core/backend';
import { type Engine, rowsOf } from '../engine.js';
import { chunkRows, flatten, normalizeChunk } from '../rows.js';

/** `normalizeRows`: the same device normalisation a corpus gets, read back chunk by chunk. */
export function normalizeRows(
  engine: Engine,
  x: Matrix,
  out: Float32Array = new Float32Array(x.data.length),
): Float32Array {
  const d = x.cols;
  const step = chunkRows(engine, d, x.rows);
  for (let r0 = 0; r0 < x.rows; r0 += step) {
    const n = Math.min(step, x.rows - r0);
    const v = normalizeChunk(engine, x, r0, n);
    try {
      flatten(rowsOf(v), d, out.subarray(r0 * d, (r0 + n) * d));
    } finally {
      engine.release(v);
    }
  }
  return out;
}
