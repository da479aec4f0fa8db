import type { Matrix } from '../contract.js';
import { matrixArg } from '../tensor.js';
import { dotTiles } from './blocked-dot.js';

const COL_BLOCK = 64;

/**
 * Reference `matmul`: `C = op(A) op(B)`. Both operands are staged once, into one float64 array, as
 * rows of the shared dimension (A's rows, then B's columns), which turns every case into the
 * blocked dot-product form; the staging is O(mk + nk) against O(mnk) work.
 */
export function matmul(
  a: Matrix,
  b: Matrix,
  transA: boolean,
  transB: boolean,
  out?: Float32Array,
): Float32Array {
  const { m, k, n } = matmulDims(a, b, transA, transB);
  const s = new Float64Array((m + n) * k);
  stage(a, transA, s, 0);
  stage(b, !transB, s, m * k);
  const c = out ?? new Float32Array(m * n);
  for (let j0 = 0; j0 < n; j0 += COL_BLOCK) {
    dotTiles(s, 0, m, (m + j0) * k, Math.min(n - j0, COL_BLOCK), k, c, j0, n);
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
  // Read once and checked (a backend author's call may pass anything): a matrix each.
  const x = matrixArg('matmul', 'a', a);
  const y = matrixArg('matmul', 'b', b);
  return { m: transA ? x.cols : x.rows, k: transA ? x.rows : x.cols, n: transB ? y.rows : y.cols };
}

/** Writes `x` (or its transpose) as float64 rows into `s` from offset `at`. */
function stage(x: Matrix, transpose: boolean, s: Float64Array, at: number): void {
  const { data, rows, cols } = x;
  if (!transpose) {
    for (let i = 0; i < rows * cols; i++) s[at + i] = data[i];
    return;
  }
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) s[at + j * rows + i] = data[o + j];
  }
}
