import { type Matrix, matmulDims } from '@cosinekit/core/backend';
import { product } from '../engine.js';
import type { WasmRuntime } from '../runtime.js';
import { stageOperand } from '../staging.js';

/**
 * `matmul`: `C = op(A) op(B)`. Both operands are staged as rows of the shared dimension (A's rows
 * and B's columns, transposing on the way in where needed), so every case runs the same
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
  // The shape is checked here, before anything is staged.
  matmulDims(a, b, transA, transB);
  const sb = stageOperand(rt, b, !transB, true, 'matmul');
  try {
    const sa = stageOperand(rt, a, transA, false, 'matmul');
    try {
      return product(rt, sa, sb, out, false, 'matmul');
    } finally {
      rt.free(sa.ptr);
    }
  } finally {
    rt.free(sb.ptr);
  }
}
