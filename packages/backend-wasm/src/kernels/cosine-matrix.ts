import type { Matrix } from '@cosinekit/core/backend';
import type { WasmRuntime } from '../runtime.js';

/**
 * `cosineMatrix`: both sides normalised into the engine's panel layout in wasm, then the
 * register-blocked dot-product engine writes `a.rows x b.rows` cosines, clamped to [-1, 1].
 */
export function cosineMatrix(rt: WasmRuntime, a: Matrix, b: Matrix, out?: Float32Array): Float32Array {
  const o = out ?? new Float32Array(a.rows * b.rows);
  const sb = rt.stageCorpus(b, true, 'cosineMatrix');
  try {
    const sa = rt.stageQueries(a, true, 'cosineMatrix');
    try {
      return rt.product(sa, sb, o, true, 'cosineMatrix');
    } finally {
      rt.free(sa.ptr);
    }
  } finally {
    rt.free(sb.ptr);
  }
}
