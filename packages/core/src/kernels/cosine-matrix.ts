import type { Matrix } from '../contract.js';
import { clampCos, dotBlock, normalizedF64 } from './blocked-dot.js';

/** Corpus rows per block: 64 rows x d float64 stay in L2 while every query row passes over them. */
export const ROW_BLOCK = 64;

/** Reference `cosineMatrix`: normalise both sides once, then a blocked product. */
export function cosineMatrix(
  a: Matrix,
  b: Matrix,
  out: Float32Array = new Float32Array(a.rows * b.rows),
): Float32Array {
  const an = normalizedF64(a.data, a.rows, a.cols);
  const bn = normalizedF64(b.data, b.rows, b.cols);
  return normalizedProduct(an, a.rows, bn, b.rows, a.cols, out);
}

/** `out = an bn^T` for row-normalised float64 operands, clamped, blocked over `bn`'s rows. */
export function normalizedProduct(
  an: Float64Array,
  m: number,
  bn: Float64Array,
  n: number,
  d: number,
  out: Float32Array,
): Float32Array {
  for (let j0 = 0; j0 < n; j0 += ROW_BLOCK) {
    const j1 = Math.min(n, j0 + ROW_BLOCK);
    // dotBlock writes columns [j0, j1) of each output row; the offset -j0 is folded in there.
    dotBlock(an, 0, m, bn, j0, j1, d, out.subarray(j0), n);
  }
  for (let i = 0; i < out.length; i++) out[i] = clampCos(out[i]);
  return out;
}
