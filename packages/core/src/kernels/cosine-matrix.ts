import type { Matrix } from '../contract.js';
import { dotTiles, stageRows } from './blocked-dot.js';
import { clampCos } from './cosine-rule.js';
import { blockRowsFor } from './top-k.js';

/** Rows of `b` per block: 128 rows x d float64 stay in L2 while every row of `a` passes over them. */
export const ROW_BLOCK = 128;

/**
 * Reference `cosineMatrix`: `a`'s rows normalised once into the head of one float64 staging array,
 * then `b` a block at a time, normalised into its tail, and the blocked product of the two. Memory:
 * (rows of a + ROW_BLOCK) x d float64 beside the output, never a float64 copy of all of `b`.
 */
export function cosineMatrix(
  a: Matrix,
  b: Matrix,
  out: Float32Array = new Float32Array(a.rows * b.rows),
): Float32Array {
  const m = a.rows;
  const n = b.rows;
  const d = a.cols;
  const tail = m * d;
  const block = blockRowsFor(ROW_BLOCK, d);
  const s = new Float64Array(tail + Math.min(n, block) * d);
  stageRows(a.data, 0, m, d, s, 0, true);
  for (let j0 = 0; j0 < n; j0 += block) {
    const j1 = Math.min(n, j0 + block);
    stageRows(b.data, j0, j1, d, s, tail, true);
    dotTiles(s, 0, m, tail, j1 - j0, d, out, j0, n);
  }
  for (let i = 0; i < out.length; i++) out[i] = clampCos(out[i]);
  return out;
}
