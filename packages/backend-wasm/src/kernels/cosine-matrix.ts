import type { Matrix } from '@cosinekit/core/backend';
import { product } from '../engine.js';
import type { WasmRuntime } from '../runtime.js';
import { stageCorpus, stageQueries } from '../staging.js';
import { streamMatrix, streamMatrixTransposed, streams } from '../stream.js';

/**
 * Shortest rows for which many rows of `a` stream over a few of `b`, and at least 8 values a row
 * of `b`: the stream saves staging `a` whole (O(rows x d)) but writes its result transposed, a
 * value at a time (O(rows x b.rows)); at d = 8 to 64 that write cost 1.5-2.3x the staged product
 * (a review, 20,000 x 8-32 rows), at 2000 x 32 x 128 1.26x, at 20,000 x 128 x 128 1.13x.
 */
const TRANSPOSED_MIN_D = 128;

/**
 * `cosineMatrix`: a few rows of `a` stream over `b` (stream.ts), or many rows of `a` (of 128 values
 * or more, and 8 a row of `b`) over a few of `b`, the result written transposed; otherwise both are
 * normalised into the engine's panel layout in wasm, then the register-blocked dot-product engine
 * writes `a.rows x b.rows` cosines, clamped to [-1, 1].
 */
export function cosineMatrix(rt: WasmRuntime, a: Matrix, b: Matrix, out?: Float32Array): Float32Array {
  if (streams(rt, a.rows)) return streamMatrix(rt, a, b, out);
  if (streams(rt, b.rows) && a.cols >= Math.max(TRANSPOSED_MIN_D, 8 * b.rows))
    return streamMatrixTransposed(rt, a, b, out);
  const sb = stageCorpus(rt, b, true, 'cosineMatrix', 'b');
  try {
    const sa = stageQueries(rt, a, true, 'cosineMatrix', 'a');
    try {
      return product(rt, sa, sb, out, true, 'cosineMatrix');
    } finally {
      rt.free(sa.ptr);
    }
  } finally {
    rt.free(sb.ptr);
  }
}
