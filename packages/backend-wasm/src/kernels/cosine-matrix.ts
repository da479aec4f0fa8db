import type { Matrix } from '@cosinekit/core';
import { padded, type WasmRuntime } from '../runtime.js';

/**
 * `cosineMatrix`: both sides normalised into padded rows in wasm, then the register-blocked
 * dot-product engine writes `a.rows x b.rows` cosines, clamped to [-1, 1].
 */
export function cosineMatrix(rt: WasmRuntime, a: Matrix, b: Matrix, out?: Float32Array): Float32Array {
  const o = out ?? new Float32Array(a.rows * b.rows);
  const pb = rt.stageNormalized(b, 'cosineMatrix');
  let pa = -1;
  try {
    pa = rt.stageNormalized(a, 'cosineMatrix');
    return rt.product(pa, a.rows, pb, b.rows, padded(a.cols), o, true, 'cosineMatrix');
  } finally {
    rt.free(pb);
    if (pa >= 0) rt.free(pa);
  }
}
