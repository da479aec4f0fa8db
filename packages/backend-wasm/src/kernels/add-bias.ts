import type { Matrix } from '@cosinekit/core/backend';
import type { WasmRuntime } from '../runtime.js';
import { downloadFinite } from './finite.js';

/**
 * `addBias`: `x + bias` broadcast over rows, four lanes at a time. Self-checked: the kernel checks
 * the sums finite as it writes them, before they are copied out.
 */
export function addBias(rt: WasmRuntime, x: Matrix, bias: Float32Array, out?: Float32Array): Float32Array {
  const px = rt.upload(x.data, 'addBias');
  let pb = -1;
  try {
    pb = rt.upload(bias, 'addBias');
    const finite = rt.exports.addBias(px, x.rows, x.cols, pb, px);
    return downloadFinite(rt, 'addBias', finite, px, x.data.length, out);
  } finally {
    rt.free(px);
    if (pb >= 0) rt.free(pb);
  }
}
