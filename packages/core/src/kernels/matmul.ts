import type { Matrix } from '../contract.js';
import { dotBlock } from './blocked-dot.js';

const COL_BLOCK = 64;

/**
 * Reference `matmul`: `C = op(A) op(B)`. Both operands are staged once as float64 rows of the
 * shared dimension (A's rows, B's columns), which turns every case into the blocked dot-product
 * form; the staging is O(mk + nk) against O(mnk) work.
 */
export function matmul(
  a: Matrix,
  b: Matrix,
  transA: boolean,
  transB: boolean,
  out?: Float32Array,
): Float32Array {
  const { m, k, n } = matmulDims(a, b, transA, transB);
  const at = stage(a, transA);
  const bt = stage(b, !transB);
  const c = out ?? new Float32Array(m * n);
  for (let j0 = 0; j0 < n; j0 += COL_BLOCK) {
    dotBlock(at, 0, m, bt, j0, Math.min(n, j0 + COL_BLOCK), k, c.subarray(j0), n);
  }
  return c;
}

/** The shape of `C = op(A) op(B)`: `C` is `m x n` and `k` is the shared dimension. */
export function matmulDims(
  a: Matrix,
  b: Matrix,
  transA: boolean,
  transB: boolean,
): { m: number; k: number; n: number } {
  return { m: transA ? a.cols : a.rows, k: transA ? a.rows : a.cols, n: transB ? b.rows : b.cols };
}

/** `x` (or its transpose) as float64 rows. */
function stage(x: Matrix, transpose: boolean): Float64Array {
  const { data, rows, cols } = x;
  const s = new Float64Array(rows * cols);
  if (!transpose) {
    for (let i = 0; i < s.length; i++) s[i] = data[i];
    return s;
  }
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) s[j * rows + i] = data[o + j];
  }
  return s;
}
