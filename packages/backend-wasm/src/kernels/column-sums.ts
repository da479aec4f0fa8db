import { checkColumnSums, type Matrix } from '@cosinekit/core/backend';
import type { WasmRuntime } from '../runtime.js';
import { downloadFinite } from './finite.js';

/**
 * `columnSums`: each column of `x` summed down its rows in float32, in the contract's order
 * (assembly/nn.ts: four columns per SIMD add, every column's adds in row order, so the same bits
 * as the reference). The rows are read once, in order; `x.cols` sums come back.
 */
export function columnSums(rt: WasmRuntime, x: Matrix, out?: Float32Array): Float32Array {
  checkColumnSums(x, out);
  const px = rt.upload(x.data, 'columnSums');
  let po = -1;
  try {
    po = rt.alloc(x.cols * 4, 'columnSums');
    const finite = rt.exports.columnSums(px, x.rows, x.cols, po);
    return downloadFinite(rt, 'columnSums', finite, po, x.cols, out);
  } finally {
    rt.free(px);
    if (po >= 0) rt.free(po);
  }
}
