import type { Matrix } from '../contract.js';
import { rowNorms } from './row-norms.js';

/** Reference `normalizeRows`: each row over its L2 norm; a zero row stays zero. */
export function normalizeRows(x: Matrix, out: Float32Array = new Float32Array(x.data.length)): Float32Array {
  const { data, rows, cols } = x;
  const norms = rowNorms(x);
  for (let i = 0; i < rows; i++) {
    const n = norms[i];
    const inv = n > 0 ? 1 / n : 0;
    const o = i * cols;
    for (let p = 0; p < cols; p++) out[o + p] = data[o + p] * inv;
  }
  return out;
}
