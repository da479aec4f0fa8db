import type { Matrix } from '../contract.js';

/**
 * Reference `normalizeRows`: each row over its L2 norm, taken in float64 from the row itself (a
 * norm rounded to float32 first is Infinity past 3.4e38, which made a row of 3e38 values zero, and
 * coarse below 2^-126, which left a subnormal row 1% off unit length); a zero row stays zero.
 */
export function normalizeRows(x: Matrix, out: Float32Array = new Float32Array(x.data.length)): Float32Array {
  const { data, rows, cols } = x;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let ss = 0;
    for (let p = 0; p < cols; p++) ss += data[o + p] * data[o + p];
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let p = 0; p < cols; p++) out[o + p] = data[o + p] * inv;
  }
  return out;
}
