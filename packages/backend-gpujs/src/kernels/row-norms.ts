import type { Matrix } from '@cosinekit/core/backend';
import { type Engine, rowsOf } from '../engine.js';
import { chunkRows, rowScale } from '../rows.js';

/** `rowNorms`: the row scale on the device, `max * sqrt(sum)` assembled in float64 here. */
export function rowNorms(
  engine: Engine,
  x: Matrix,
  out: Float32Array = new Float32Array(x.rows),
): Float32Array {
  const step = chunkRows(engine, x.cols, x.rows);
  for (let r0 = 0; r0 < x.rows; r0 += step) {
    const n = Math.min(step, x.rows - r0);
    const v = rowScale(engine, x, r0, n);
    try {
      const s = rowsOf(v);
      for (let i = 0; i < n; i++) out[r0 + i] = s[0][i] * Math.sqrt(s[1][i]);
    } finally {
      engine.release(v);
    }
  }
  return out;
}
