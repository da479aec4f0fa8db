import type { Matrix } from '@cosinekit/core';
import { padded, type WasmRuntime } from '../runtime.js';

/**
 * `matmul`: `C = op(A) op(B)`. Both operands are staged as padded rows of the shared dimension
 * (A's rows and B's columns, transposing on the way in where needed), so every case runs the same
 * dot-product engine as the cosine kernels; staging is O(mk + kn) against O(mnk) work.
 */
export function matmul(
  rt: WasmRuntime,
  a: Matrix,
  b: Matrix,
  transA: boolean,
  transB: boolean,
  out?: Float32Array,
): Float32Array {
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const n = transB ? b.rows : b.cols;
  const o = out ?? new Float32Array(m * n);
  const pa = rt.stageRows(a, transA, 'matmul');
  let pb = -1;
  try {
    pb = rt.stageRows(b, !transB, 'matmul');
    return rt.product(pa, m, pb, n, padded(k), o, false, 'matmul');
  } finally {
    rt.free(pa);
    if (pb >= 0) rt.free(pb);
  }
}
