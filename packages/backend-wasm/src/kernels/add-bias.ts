import type { Matrix } from '@cosinekit/core/backend';
import type { WasmRuntime } from '../runtime.js';

/** `addBias`: `x + bias` broadcast over rows, four lanes at a time. */
export function addBias(rt: WasmRuntime, x: Matrix, bias: Float32Array, out?: Float32Array): Float32Array {
  const px = rt.upload(x.data, 'addBias');
  let pb = -1;
  try {
    pb = rt.upload(bias, 'addBias');
    rt.exports.addBias(px, x.rows, x.cols, pb, px);
    return rt.download(px, x.data.length, out);
  } finally {
    rt.free(px);
    if (pb >= 0) rt.free(pb);
  }
}
