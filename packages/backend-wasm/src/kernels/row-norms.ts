import type { Matrix } from '@cosinekit/core/backend';
import type { WasmRuntime } from '../runtime.js';

/** `rowNorms`: the L2 norm of each row, accumulated in float64 inside wasm. */
export function rowNorms(rt: WasmRuntime, x: Matrix, out?: Float32Array): Float32Array {
  const src = rt.upload(x.data, 'rowNorms');
  let dst = -1;
  try {
    dst = rt.alloc(x.rows * 4, 'rowNorms');
    rt.exports.rowNorms(src, x.rows, x.cols, dst);
    return rt.download(dst, x.rows, out);
  } finally {
    rt.free(src);
    if (dst >= 0) rt.free(dst);
  }
}
