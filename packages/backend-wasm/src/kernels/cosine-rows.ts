import type { Matrix } from '@cosinekit/core/backend';
import type { WasmRuntime } from '../runtime.js';

/** `cosineRows`: `out[i] = cos(a_i, b_i)`, one SIMD pass per row pair for the dot and both norms. */
export function cosineRows(rt: WasmRuntime, a: Matrix, b: Matrix, out?: Float32Array): Float32Array {
  const pa = rt.upload(a.data, 'cosineRows');
  let pb = -1;
  let po = -1;
  try {
    pb = rt.upload(b.data, 'cosineRows');
    po = rt.alloc(a.rows * 4, 'cosineRows');
    rt.exports.cosineRows(pa, pb, a.rows, a.cols, po);
    return rt.download(po, a.rows, out);
  } finally {
    rt.free(pa);
    if (pb >= 0) rt.free(pb);
    if (po >= 0) rt.free(po);
  }
}
