import type { Matrix } from '@cosinekit/core/backend';
import type { WasmRuntime } from '../runtime.js';

/** `normalizeRows`: each row divided by its norm (float64 norm), zero rows kept zero; normalised in place in wasm. */
export function normalizeRows(rt: WasmRuntime, x: Matrix, out?: Float32Array): Float32Array {
  const ptr = rt.upload(x.data, 'normalizeRows');
  try {
    rt.exports.normalizeRows(ptr, x.rows, x.cols, ptr, x.cols);
    return rt.download(ptr, x.data.length, out);
  } finally {
    rt.free(ptr);
  }
}
