import type { Matrix } from '@cosinekit/core/backend';
import { product } from '../engine.js';
import type { WasmRuntime } from '../runtime.js';
import { stageCorpus, stageQueries } from '../staging.js';
import { streamMatrix, streamMatrixTransposed, streams } from '../stream.js';

/**
 * `cosineMatrix`: a few rows of `a` stream over `b` (stream.ts), or many rows of `a` over a few of
 * `b`, the result written transposed; more on both sides, and both are
 * normalised into the engine's panel layout in wasm, then the register-blocked dot-product engine
 * writes `a.rows x b.rows` cosines, clamped to [-1, 1].
 */
export function cosineMatrix(rt: WasmRuntime, a: Matrix, b: Matrix, out?: Float32Array): Float32Array {
  if (streams(rt, a.rows)) return streamMatrix(rt, a, b, out);
  if (streams(rt, b.rows)) return streamMatrixTransposed(rt, a, b, out);
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
